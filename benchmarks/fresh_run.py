"""``sitewatch run`` in a fresh process, so that its peak RSS is its own (benchmark helper)."""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from typing import Any


def _run(site: str, images: str, out: str, sensors: str, queue: Any) -> None:
    from sitewatch.pipeline import RunOptions, run_site

    # CPU time of the run (all threads): less sensitive than wall time to other work
    # on the machine
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    result = run_site(site, images, out, RunOptions(sensors=sensors))  # type: ignore[arg-type]
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB -> MiB (Linux)
    queue.put({"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": rss,
               "n_dates": sum(r.status != "skipped" for r in result.scenes),
               "n_events": len(result.events),
               "pixels": result.grid.width * result.grid.height})  # fmt: skip


def run_fresh(site: str, images: str, out: str, sensors: str = "optical") -> dict[str, Any]:
    """Run the pipeline in a spawned process: wall_s, cpu_s, peak_rss_mib (MiB), n_dates
    (scenes not skipped), n_events and pixels of the site grid."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(site, images, out, sensors, queue))
    proc.start()
    stats: dict[str, Any] = queue.get()
    proc.join()
    return stats
