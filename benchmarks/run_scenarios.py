"""Event-level quality, time and memory of ``sitewatch run`` on simulated scenarios.

For each scenario and seed: simulate (``build_scenario`` + ``write_scenario``), run
the pipeline in a fresh process (so peak RSS is the run's own), and score the
detected events against the truth (:func:`sitewatch.sim.score.score_events`).

Prints one JSON object (per-run figures and per-scenario means) and a table::

    python benchmarks/run_scenarios.py --seeds 1-5 --size 512
    python benchmarks/run_scenarios.py --sensors sar --seeds 1-5 --size 256
    python benchmarks/run_scenarios.py --seeds 1 --scenarios quiet --keep /tmp/bench

``--sensors optical`` (the default) runs the optical scenes only and scores
against ``truth/events.geojson``; ``sar`` runs the radar series only and scores
against ``truth/events_sar.geojson``, over the events radar can see
(``sar_visible``; the recall over all of them is printed too); ``all`` runs both
and scores against ``truth/events_all.geojson``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

from fresh_run import run_fresh
from seeds import parse_seeds

SCENARIOS = ("sohae-2019", "quiet", "cloudy", "misregistered")


TRUTH = {"optical": "events.geojson", "sar": "events_sar.geojson", "all": "events_all.geojson"}


def one(
    name: str, seed: int, size: int, root: Path, sensors: str, pixel_m: float | None = None
) -> dict[str, Any]:
    """Simulate, run and score one scenario."""
    from sitewatch.sim.scenarios import build_scenario
    from sitewatch.sim.score import score_events
    from sitewatch.sim.write import write_scenario

    base = root / f"{name}-{seed}"
    scenario = build_scenario(name, seed=seed, size=size, pixel_m=pixel_m)
    write_scenario(scenario, base, sar=sensors != "optical")
    run = run_fresh(str(base / "site.geojson"), str(base / "images"), str(base / "run"), sensors)
    stats = {"wall_s": round(run["wall_s"], 2), "peak_rss_mib": round(run["peak_rss_mib"], 1),
             "n_events": run["n_events"]}  # fmt: skip
    truth = json.loads((base / "truth" / TRUTH[sensors]).read_text())
    found = json.loads((base / "run" / "events.geojson").read_text())
    extra: dict[str, Any] = {}
    if sensors == "sar":
        extra["recall_all_events"] = score_events(truth, found).recall_persistent
        truth["features"] = [f for f in truth["features"] if f["properties"]["sar_visible"]]
    s = score_events(truth, found)
    return {"scenario": name, "seed": seed, "size": size, "sensors": sensors, **stats,
            **s.as_dict(), **extra}  # fmt: skip


def _mean(values: list[float]) -> float:
    ok = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    return round(sum(ok) / len(ok), 3) if ok else float("nan")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1-5", help="e.g. 1-5 or 1,3")
    ap.add_argument("--size", type=int, default=512, help="scene side in pixels")
    ap.add_argument(
        "--pixel-m", type=float, default=None,
        help="pixel side in metres (default 3; 10 renders the site at Sentinel-2's resolution)",
    )  # fmt: skip
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--sensors", default="optical", choices=sorted(TRUTH))
    ap.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="folder (new or empty) to keep the scenes and runs in, for inspection",
    )
    args = ap.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="sitewatch-bench-") as tmp:
        root = args.keep if args.keep is not None else Path(tmp)
        for name in args.scenarios.split(","):
            for seed in parse_seeds(args.seeds):
                runs.append(one(name, seed, args.size, root, args.sensors, args.pixel_m))
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
