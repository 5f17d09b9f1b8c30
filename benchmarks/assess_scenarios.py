"""Assessment on simulated scenarios: status histories, false-alarm rates, Sohae targets.

For each scenario and seed: simulate (``build_scenario`` + ``write_scenario``), run
the pipeline (``run_site``) and evaluate the site's profile on the run's events
and timeline (:func:`sitewatch.assess.evaluate`). Prints, as one JSON object and
a table:

* per run, the status history (one letter per date: q quiet, a activity,
  e elevated, H high);
* on ``quiet``, for every indicator of every built-in profile, the share of
  dates on which it triggered (pooled over seeds): its false-alarm rate;
  target: no status above ``activity`` on any date;
* on ``sohae-2019``, the true onset of the rebuilding (earliest onset of a
  2019 ``appeared`` event in ``truth/events.geojson``), how many acquisitions
  after the first one on or after it the status first reaches ``high``
  (target <= 1), and the highest status through the winter (acquisitions from
  2018-11-01 to the first 2019 activity of the truth, crane or vehicles included;
  target ``quiet`` or ``activity``).

``--source truth`` evaluates the truth instead, as a perfect pipeline would
report it (settled at the next acquisition, zone activity from the true areas):
it checks the profiles apart from the pipeline's errors. ``--source kept``
re-reads the runs an earlier call left under ``--work``.

``--write-rates`` stores the quiet rates in the packaged
``src/sitewatch/assess/false_alarms.yaml`` (keyed by indicator fingerprint, with
how they were produced), from where profiles attach them to their indicators::

    python benchmarks/assess_scenarios.py --seeds 1-10 --size 512 --write-rates
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seeds import parse_seeds

from sitewatch import __version__
from sitewatch.assess import evaluate, evaluate_on, load_profile
from sitewatch.assess.engine import EventLike
from sitewatch.assess.profiles import BUILTIN_PROFILES
from sitewatch.io.assessment import EventRecord, read_events
from sitewatch.models import STATUS_LEVELS, Assessment, Site, ZoneTimelineRow
from sitewatch.timeline.zones import SITE_ZONE, robust_z

SCENARIOS = ("sohae-2019", "quiet")
WINTER_START = dt.date(2018, 11, 1)
RATES_FILE = Path(__file__).resolve().parents[1] / "src/sitewatch/assess/false_alarms.yaml"
_LETTER = {"quiet": "q", "activity": "a", "elevated": "e", "high": "H"}


def prepare(name: str, seed: int, size: int, root: Path, source: str) -> dict[str, Any]:
    """Site, events, timeline and dates of one scenario, from ``source``.

    ``run``: simulate and run the pipeline; ``kept``: read the run folder an earlier
    call left under ``root`` (settlement dates assumed, see
    :func:`sitewatch.io.assessment.read_events`); ``truth``: simulate and take the
    truth as a perfect pipeline would report it (:func:`oracle_inputs`).
    """
    from sitewatch.io.assessment import read_run
    from sitewatch.pipeline import RunOptions, run_site
    from sitewatch.sim.scenarios import build_scenario
    from sitewatch.sim.write import write_scenario
    from sitewatch.sites import load_site

    base = root / f"{name}-{seed}"
    site_path, truth_path = base / "sim" / "site.geojson", base / "sim" / "truth" / "events.geojson"
    t0 = time.perf_counter()
    events: Sequence[EventLike]
    if source == "kept":
        run = read_run(base / "run")
        site, events, timeline = load_site(site_path), list(run.events), list(run.timeline)
    else:
        scenario = build_scenario(name, seed=seed, size=size)
        write_scenario(scenario, base / "sim", overwrite=True)
        if source == "truth":
            site = load_site(site_path)
            dates = sorted({a.date for a in scenario.acquisitions})
            events, timeline = oracle_inputs(truth_path, site, dates)
        else:
            result = run_site(site_path, base / "sim" / "images", base / "run",
                              RunOptions(overwrite=True))  # fmt: skip
            site, events, timeline = result.site, result.events, result.timeline
    return {"scenario": name, "seed": seed, "size": size, "events_from": source,
            "site": site, "events": events, "timeline": timeline,
            "dates": sorted({r.date for r in timeline}),
            "run_s": round(time.perf_counter() - t0, 1),
            "truth": json.loads(truth_path.read_text())}  # fmt: skip


def assess(r: dict[str, Any]) -> dict[str, Any]:
    """Every built-in profile on one prepared scenario: assessments and dates triggered."""
    t0 = time.perf_counter()
    site, events, timeline, dates = r["site"], r["events"], r["timeline"], r["dates"]
    assessments, fired = {}, {}
    for pname in BUILTIN_PROFILES:
        profile = load_profile(pname)
        assessments[pname] = evaluate(profile, site, events, timeline, dates)
        per_date = [evaluate_on(profile, site, events, timeline, d) for d in dates]
        fired[pname] = {
            ind.name: sum(any(f.result.triggered and f.result.name == ind.name
                              for f in ev.findings) for ev in per_date)
            for ind in profile.indicators
        }  # fmt: skip
    return {**r, "assessments": assessments, "fired": fired, "n_dates": len(dates),
            "n_events": len(events), "profile": site.profile,
            "assess_s": round(time.perf_counter() - t0, 2)}  # fmt: skip


def oracle_inputs(
    truth_path: Path, site: Site, dates: list[dt.date]
) -> tuple[list[EventRecord], list[ZoneTimelineRow]]:
    """Events and zone timeline a perfect pipeline would give: the truth itself.

    Each true event is settled at the acquisition after its ``first_seen``; each
    zone's activity is its true new area per date over the zone's area, with
    ``anomaly_z`` from :func:`sitewatch.timeline.zones.robust_z` as in a run.
    """
    events = read_events(truth_path, dates)
    areas = {z: g.area for z, g in site.zone_geometries_in(site.utm_crs()).items()}
    areas[SITE_ZONE] = site.geometry_in(site.utm_crs()).area
    rows: list[ZoneTimelineRow] = []
    for zone, zone_area in areas.items():
        new = [sum(e.area_m2 for e in events if e.first_seen == d
                   and (zone == SITE_ZONE or e.zone == zone)) for d in dates]  # fmt: skip
        act = [a / zone_area for a in new]
        z = robust_z(act)
        rows += [ZoneTimelineRow(d, zone, 1.0, act[i], new[i], act[i], float(z[i]))
                 for i, d in enumerate(dates)]  # fmt: skip
    return events, rows


def _history(a: Assessment) -> str:
    return "".join(_LETTER[p.status] for p in a.history)


def _rebuilding(truth: dict[str, Any]) -> list[dict[str, Any]]:
    """Properties of the 2019 ``appeared`` events of the truth: the rebuilding."""
    return [f["properties"] for f in truth["features"]
            if f["properties"]["kind"] == "appeared"
            and f["properties"]["onset"] >= "2019-01-01"]  # fmt: skip


def _lag(a: Assessment, since: dt.date) -> tuple[int | None, str | None]:
    after = [p for p in a.history if p.date >= since]
    lag = next((i for i, p in enumerate(after) if p.status == "high"), None)
    return lag, after[lag].date.isoformat() if lag is not None else None


def sohae_targets(a: Assessment, truth: dict[str, Any]) -> dict[str, Any]:
    """Lag (acquisitions) to ``high`` after the rebuilding onset; worst winter status.

    The lag counts from the first acquisition on or after the true onset, and also
    from the first acquisition that could see it (the truth's ``first_seen``: clouds
    can hide the first looks).
    """
    rebuilt = _rebuilding(truth)
    if not rebuilt:
        return {"onset": None}
    onset = min(dt.date.fromisoformat(p["onset"]) for p in rebuilt)
    seen = min(dt.date.fromisoformat(p["first_seen"]) for p in rebuilt)
    lag, first_high = _lag(a, onset)
    lag_seen, _ = _lag(a, seen)
    # the winter is quiet until the first 2019 activity, which may precede the
    # rebuilding (a crane brought to the test stand days before)
    active = min([dt.date.fromisoformat(f["properties"]["onset"]) for f in truth["features"]
                  if f["properties"]["onset"] >= "2019-01-01"], default=onset)  # fmt: skip
    winter = [p.status for p in a.history if WINTER_START <= p.date < min(onset, active)]
    worst = max(winter, key=STATUS_LEVELS.index, default="quiet")
    return {
        "onset": onset.isoformat(),
        "first_visible": seen.isoformat(),
        "first_high": first_high,
        "lag_acquisitions": lag,
        "lag_ok": lag is not None and lag <= 1,
        "lag_from_visible": lag_seen,
        "winter_end": min(onset, active).isoformat(),
        "winter_worst": worst,
        "winter_ok": worst in ("quiet", "activity"),
        "names_test_stand": "engine test stand" in a.summary,
        "names_transfer": "transfer structure" in a.summary,
    }


def quiet_rates(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per built-in indicator (by fingerprint): share of quiet dates on which it triggered."""
    out: dict[str, dict[str, Any]] = {}
    total = sum(r["n_dates"] for r in runs)
    for pname in BUILTIN_PROFILES:
        for ind in load_profile(pname).indicators:
            fired = sum(r["fired"][pname][ind.name] for r in runs)
            entry = out.setdefault(ind.fingerprint, {
                "indicator": ind.name, "profiles": [],
                "rate": round(fired / total, 4) if total else None, "dates": total,
            })  # fmt: skip
            entry["profiles"].append(pname)
    return out


def write_rates(rates: dict[str, dict[str, Any]], seeds: list[int], size: int) -> None:
    """Store the rates with how they were produced (packaged; read by the profiles)."""
    import yaml

    doc = {
        "produced_by": "benchmarks/assess_scenarios.py --write-rates",
        "scenario": "quiet",
        "seeds": seeds,
        "size_px": size,
        "sitewatch": __version__,
        "date": dt.date.today().isoformat(),
        "meaning": "share of the quiet scenario's acquisition dates on which the indicator "
                   "triggered (any of its zones), pooled over seeds",
        "rates": rates,
    }  # fmt: skip
    header = "# Measured false-alarm rates of the built-in indicators; do not edit by hand.\n"
    RATES_FILE.write_text(header + yaml.safe_dump(doc, sort_keys=False))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1", help="e.g. 1-10 or 1,3")
    ap.add_argument("--size", type=int, default=256, help="scene side in pixels")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--work", type=Path, help="keep the simulated scenes and runs here")
    ap.add_argument("--source", choices=("run", "kept", "truth"), default="run",
                    help="run the pipeline, read runs kept under --work, or take the truth "
                         "as a perfect pipeline would report it")
    ap.add_argument("--write-rates", action="store_true", help="store the quiet rates")
    args = ap.parse_args(argv)
    if args.write_rates and args.source != "run":
        ap.error("--write-rates measures the pipeline: use --source run")
    if args.source == "kept" and args.work is None:
        ap.error("--source kept reads runs under --work: give --work")
    seeds = parse_seeds(args.seeds)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.work or Path(tmp)
        runs = [assess(prepare(n, s, args.size, root, args.source))
                for n in args.scenarios.split(",") for s in seeds]  # fmt: skip
    report: dict[str, Any] = {"size": args.size, "seeds": seeds, "runs": []}
    for r in runs:
        a = r["assessments"][r["profile"]]
        keys = ("scenario", "seed", "n_events", "n_dates", "run_s", "assess_s", "events_from")
        row = {k: r[k] for k in keys}
        row.update(profile=r["profile"], history=_history(a), final=a.status)
        if r["scenario"] == "sohae-2019":
            row.update(sohae_targets(a, r["truth"]))
        if r["scenario"] == "quiet":
            worst = max((p.status for p in a.history), key=STATUS_LEVELS.index)
            row.update(worst=worst, quiet_ok=worst in ("quiet", "activity"))
        row["summary"] = a.summary
        report["runs"].append(row)
    quiet = [r for r in runs if r["scenario"] == "quiet"]
    if quiet:
        report["false_alarm_rates"] = quiet_rates(quiet)
        if args.write_rates:
            write_rates(report["false_alarm_rates"], seeds, args.size)
    print(json.dumps(report, indent=1))
    print(f"\nevents from: {args.source}\n"
          "scenario              seed  events  history: q quiet, a activity, e elevated, H high",
          file=sys.stderr)  # fmt: skip
    for row in report["runs"]:
        print(f"{row['scenario']:<21} {row['seed']:>4}  {row['n_events']:>6}  {row['history']}",
              file=sys.stderr)  # fmt: skip
    for fp, e in (report.get("false_alarm_rates") or {}).items():
        print(f"  quiet rate {e['rate']:.3f}  {e['indicator']} ({', '.join(e['profiles'])}) "
              f"[{fp}]", file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    main()
