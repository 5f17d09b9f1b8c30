"""Event-level quality, time and memory of ``sitewatch run`` on simulated scenarios.

For each scenario and seed: simulate (``build_scenario`` + ``write_scenario``), run
the pipeline in a fresh process (so peak RSS is the run's own), and score the
detected events against the truth (:func:`sitewatch.sim.score.score_events`).

Prints one JSON object (per-run figures and per-scenario means) and a table::

    python benchmarks/run_scenarios.py --seeds 1-5 --size 512
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCENARIOS = ("sohae-2019", "quiet", "cloudy", "misregistered")


def _seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-", 1)
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def _run(site: str, images: str, out: str, queue: Any) -> None:
    from sitewatch.pipeline import run_site

    t0 = time.perf_counter()
    result = run_site(site, images, out)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB -> MiB (Linux)
    queue.put({"wall_s": round(wall, 2), "peak_rss_mib": round(rss, 1),
               "n_events": len(result.events)})  # fmt: skip


def one(name: str, seed: int, size: int, root: Path) -> dict[str, Any]:
    """Simulate, run and score one scenario."""
    from sitewatch.sim.scenarios import build_scenario
    from sitewatch.sim.score import score_events
    from sitewatch.sim.write import write_scenario

    base = root / f"{name}-{seed}"
    write_scenario(build_scenario(name, seed=seed, size=size), base)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(
        target=_run, args=(str(base / "site.geojson"), str(base / "images"),
                           str(base / "run"), queue),
    )  # fmt: skip
    proc.start()
    stats = queue.get()
    proc.join()
    truth = json.loads((base / "truth" / "events.geojson").read_text())
    found = json.loads((base / "run" / "events.geojson").read_text())
    s = score_events(truth, found)
    return {"scenario": name, "seed": seed, "size": size, **stats, **s.as_dict()}


def _mean(values: list[float]) -> float:
    ok = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    return round(sum(ok) / len(ok), 3) if ok else float("nan")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1-5", help="e.g. 1-5 or 1,3")
    ap.add_argument("--size", type=int, default=512, help="scene side in pixels")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = ap.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="sitewatch-bench-") as tmp:
        for name in args.scenarios.split(","):
            for seed in _seeds(args.seeds):
                runs.append(one(name, seed, args.size, Path(tmp)))
                print(f"done {name} seed {seed}", file=sys.stderr)
    summary = {}
    for name in dict.fromkeys(r["scenario"] for r in runs):
        rs = [r for r in runs if r["scenario"] == name]
        summary[name] = {
            k: _mean([r[k] for r in rs])
            for k in ("recall_persistent", "precision_persistent", "first_seen_exact",
                      "n_detected", "n_detected_persistent", "wall_s", "peak_rss_mib")
        }  # fmt: skip
    print(json.dumps({"runs": runs, "summary": summary}, indent=1))
    cols = ("recall", "precision", "first_seen", "events", "persist.", "wall_s", "rss_MiB")
    print(f"{'scenario':<15}" + "".join(f"{c:>11}" for c in cols))
    for name, s in summary.items():
        vals = [
            s["recall_persistent"],
            s["precision_persistent"],
            s["first_seen_exact"],
            s["n_detected"],
            s["n_detected_persistent"],
            s["wall_s"],
            s["peak_rss_mib"],
        ]
        print(f"{name:<15}" + "".join(f"{v:>11}" for v in vals))  # fmt: skip


if __name__ == "__main__":
    main()
