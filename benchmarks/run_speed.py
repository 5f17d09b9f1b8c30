"""Wall time and peak memory of ``sitewatch run`` on a large optical site (issue 3).

Simulates ``sohae-2019`` at ``--size`` px with exactly ``--dates`` acquisitions
(a denser 5-8 day cadence, the earliest dates kept), runs the pipeline on the
optical scenes without the report in a fresh process (so peak RSS is the run's
own), ``--repeat`` times, and compares the figures with the target: under 60 s
and 1.5 GiB peak RSS for 600 x 600 px and 50 dates.  Prints one JSON object and
a one-line table::

    python benchmarks/run_speed.py
    python benchmarks/run_speed.py --size 600 --dates 50 --repeat 3
    PYTHONPATH=/tmp/old_src python benchmarks/run_speed.py --keep /tmp/speed-scenes

With ``--keep`` the scenes are written once and reused by later calls with the
same size, dates and seed (the run folders are replaced).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from fresh_run import run_fresh

#: the issue's budget for 600 x 600 px and 50 dates on two cores
TARGET_WALL_S = 60.0
TARGET_RSS_GIB = 1.5
SCENARIO = "sohae-2019"
#: denser than the scenario's 5-10 days, so that 50 dates fit in June 2018-April 2019
CADENCE_DAYS = (5, 8)


def simulate(base: Path, size: int, dates: int, seed: int) -> None:
    """Write the scenario's optical scenes to ``base`` unless a finished copy is there."""
    from sitewatch.sim.scenarios import build_scenario
    from sitewatch.sim.write import write_scenario

    if (base / "site.geojson").is_file():
        return
    scenario = build_scenario(
        SCENARIO, seed=seed, size=size, cadence_days=CADENCE_DAYS, max_dates=dates
    )
    if len(scenario.dates) != dates:
        sys.exit(f"--dates: the scenario holds only {len(scenario.dates)} dates; give fewer")
    tmp = base.with_name(base.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    write_scenario(scenario, tmp, sar=False)
    tmp.rename(base)


def run_once(base: Path) -> dict[str, Any]:
    """Run the pipeline on the scenes in ``base`` in a fresh process; its figures."""
    out = base.parent / (base.name + "-run")
    shutil.rmtree(out, ignore_errors=True)
    return run_fresh(str(base / "site.geojson"), str(base / "images"), str(out))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=600, help="scene side in pixels")
    ap.add_argument("--dates", type=int, default=50, help="number of acquisitions")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs (min and median reported)")
    ap.add_argument("--keep", type=Path, default=None,
                    help="folder to keep (and reuse) the simulated scenes in")  # fmt: skip
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error(f"--repeat: {args.repeat}; give 1 or more")
    with tempfile.TemporaryDirectory(prefix="sitewatch-speed-") as tmp:
        root = args.keep if args.keep is not None else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        base = root / f"{SCENARIO}-s{args.seed}-{args.size}px-{args.dates}d"
        simulate(base, args.size, args.dates, args.seed)
        runs = []
        for k in range(args.repeat):
            runs.append(run_once(base))
            print(f"run {k + 1}/{args.repeat}: {runs[-1]['wall_s']:.1f} s", file=sys.stderr)
    walls = [r["wall_s"] for r in runs]
    rss = [r["peak_rss_mib"] for r in runs]
    wall_min, rss_max = min(walls), max(rss)
    summary = {
        "scenario": SCENARIO, "seed": args.seed, "size": args.size,
        "n_dates": runs[0]["n_dates"], "pixels": runs[0]["pixels"],
        "n_events": runs[0]["n_events"], "repeat": args.repeat,
        "wall_s": round(wall_min, 2), "wall_s_median": round(statistics.median(walls), 2),
        "wall_s_all": [round(w, 2) for w in walls],
        "cpu_s": round(min(r["cpu_s"] for r in runs), 2),
        "peak_rss_mib": round(rss_max, 1),
        "ratio_to_target": round(wall_min / TARGET_WALL_S, 3),
        "rss_ratio_to_target": round(rss_max / 1024.0 / TARGET_RSS_GIB, 3),
    }  # fmt: skip
    print(json.dumps(summary, indent=1))
    print(
        f"{SCENARIO} {args.size}px x {summary['n_dates']} dates: "
        f"wall {summary['wall_s']} s (median {summary['wall_s_median']}, "
        f"{summary['ratio_to_target']:.2f} x {TARGET_WALL_S:g} s), cpu {summary['cpu_s']} s, "
        f"peak RSS {summary['peak_rss_mib']} MiB "
        f"({summary['rss_ratio_to_target']:.2f} x {TARGET_RSS_GIB:g} GiB)"
    )


if __name__ == "__main__":
    main()
