"""The built-in demo: the simulated Sohae launch station, watched from June 2018 to April 2019.

:func:`run_demo` simulates ``sohae-2019`` (optical scenes at 3 m with clouds,
haze, drift and shifts, plus a 12-day radar series), runs the whole pipeline
on it, assesses it with the ``launch_site`` profile and writes the report.
The simulator's truth sits beside the outputs, so every claim can be checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import OutputError
from .evidence import Evidence, assess_and_report
from .models import StatusPoint
from .pipeline import RunOptions, RunResult, run_site
from .sim.scenarios import build_scenario
from .sim.write import write_scenario

__all__ = ["DEMO_SCENARIO", "DEMO_SIZE_PX", "DemoSummary", "run_demo"]

DEMO_SCENARIO = "sohae-2019"
#: scene side: 768 m at 3 m, the station's core (pad, gantry, test stand, rail transfer)
DEMO_SIZE_PX = 256

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DemoSummary:
    """What the demo wrote and found."""

    out_dir: Path
    result: RunResult
    evidence: Evidence

    def lines(self) -> list[str]:
        r, a = self.result, self.evidence.assessment
        persistent = [e for e in r.events if e.kind != "transient" and e.confirmed]
        out = [
            f"{r.site.name}: {len(r.events)} events "
            f"({len(persistent)} confirmed structural changes) in {r.seconds:.0f} s",
        ]
        by_zone: dict[str, list[str]] = {}
        for e in persistent:
            by_zone.setdefault(e.zone or "(outside zones)", []).append(
                f"{e.kind} {e.first_seen.isoformat()} ({e.area_m2:,.0f} m2, {e.event_id})"
            )
        for zone, items in sorted(by_zone.items()):
            out.append(f"  {zone:<20} " + "; ".join(items))
        out.append(f"Status as of {a.as_of.isoformat()}: {a.status} (score {a.score:.2f})")
        changes = _status_changes(a.history)
        if changes:
            out.append("  status changes: " + ", ".join(f"{d} {s}" for d, s in changes))
        out.append(a.summary)
        out.append(f"Outputs in {self.out_dir}/")
        report = self.evidence.files.get("report.html")
        if report is not None:
            out.append(f"Report: {report}")
        truth = self.out_dir.parent / "scenario" / "truth"
        out.append(f"Truth (what the simulator put in): {truth}/")
        return out


def _status_changes(history: tuple[StatusPoint, ...]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    last = "quiet"
    for p in history:
        if p.status != last:
            out.append((p.date.isoformat(), p.status))
            last = p.status
    return out


def run_demo(
    out_dir: Path, seed: int = 7, size: int = DEMO_SIZE_PX, progress: Progress | None = None
) -> DemoSummary:
    """Simulate the demo site, run, assess and report it into ``out_dir``.

    ``out_dir/scenario`` holds the simulated inputs and truth, ``out_dir/run`` the
    run's outputs (replaced when the demo is run again).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out: {out_dir} is a file; give a folder")
    scenario_dir = out_dir / "scenario"
    write_scenario(build_scenario(DEMO_SCENARIO, seed=seed, size=size), scenario_dir,
                   overwrite=True)  # fmt: skip
    result = run_site(
        scenario_dir / "site.geojson", scenario_dir / "images", out_dir / "run",
        RunOptions(overwrite=True), progress=progress,
    )  # fmt: skip
    evidence = assess_and_report(result)
    return DemoSummary(out_dir / "run", result, evidence)
