"""Write a rendered scenario to a folder: images, site file, truth and parameters.

Layout of ``out_dir``::

    images/<YYYY-MM-DD>.tif      4-band uint16 (blue, green, red, nir), nodata 0
    images/<YYYY-MM-DD>_s1.tif   radar: 2-band float32 (vv, vh) linear power, every 12 days
    site.geojson                 the site, its zones and the Hanoi summit
    truth/events.geojson         the events, as sitewatch run's events.geojson, plus onsets
    truth/events_sar.geojson     the same as the radar series sees them (``sar_visible``)
    truth/events_all.geojson     the same for both sensors (first_seen: the earlier one)
    truth/clouds/<date>.tif      cloud mask classes (0 clear, 1 cloud, 2 shadow, 255 nodata)
    scenario.json                seed, dates and every drawn parameter

Each file is written atomically through :mod:`sitewatch.io.writers`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rasterio.crs import CRS

from .. import __version__
from ..errors import OutputError
from ..io.raster import Grid
from ..io.writers import write_geotiff, write_text_atomic
from ..models import Site, Zone
from ..sites import site_to_geojson
from .layout import to_lonlat
from .render import BANDS, NODATA, footprint_mask, render_scene, scene_masks
from .sar import render_sar_scene, sar_sigma0
from .scenarios import Scenario, SimEvent
from .truth import CLEAR_SHARE, TruthEvent, sar_truth_events, truth_events, truth_geojson

__all__ = ["ScenarioFiles", "scenario_site", "write_scenario"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ScenarioFiles:
    """Where :func:`write_scenario` put things."""

    out_dir: Path
    images: tuple[Path, ...]
    site: Path
    truth: Path
    parameters: Path
    n_events: int


def scenario_site(scenario: Scenario) -> Site:
    """The scenario's site (lon/lat), as ``site.geojson`` describes it."""
    layout = scenario.layout
    zones = tuple(Zone(name, to_lonlat(poly)) for name, poly in layout.zones.items())
    return Site(
        name=scenario.site_name, profile="launch_site", geometry=to_lonlat(layout.site),
        zones=zones, context_events=scenario.context_events,
    )  # fmt: skip


def _prepare(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out: {out_dir} is a file; give a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise OutputError(
                f"--out: {out_dir} is not empty; give a new folder or pass --overwrite"
            )
        # Drop rasters of an earlier run, whose dates may differ from this one's.
        for sub in ("images", "truth/clouds"):
            for old in (out_dir / sub).glob("*.tif"):
                old.unlink()
    for sub in ("images", "truth/clouds"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)


def write_scenario(
    scenario: Scenario,
    out_dir: str | Path,
    overwrite: bool = False,
    clouds: bool = True,
    progress: Progress | None = None,
    sar: bool = True,
) -> ScenarioFiles:
    """Render every acquisition of ``scenario`` and write the folder described above.

    Parameters
    ----------
    scenario : Scenario
        From :func:`sitewatch.sim.scenarios.build_scenario`.
    out_dir : str or Path
        Created if missing; must be empty unless ``overwrite``.
    overwrite : bool
        Write into a non-empty folder, replacing earlier images and truth.
    clouds : bool
        Also write the cloud masks under ``truth/clouds/``.
    sar : bool
        Also write a radar series (:func:`sar_dates`) and its truth.
    progress : callable or None
        Called with (done, total) after each date.
    """
    out = Path(out_dir)
    _prepare(out, overwrite)
    n = len(scenario.acquisitions)
    radar = sar_dates(scenario) if sar else []
    total = n + len(radar) + 1
    images = []
    masks = []
    for i, acq in enumerate(scenario.acquisitions):
        scene = render_scene(scenario, i)
        _, h, w = scene.data.shape
        grid = Grid(w, h, scene.transform, CRS.from_user_input(scene.crs))
        path = out / "images" / f"{acq.date.isoformat()}.tif"
        write_geotiff(path, scene.data, grid, BANDS, nodata=0)
        images.append(path)
        if clouds:
            write_geotiff(
                out / "truth" / "clouds" / path.name, scene.cloud_mask[None], grid,
                ("cloud mask: 0 clear, 1 cloud, 2 shadow, 255 nodata",), nodata=NODATA,
            )  # fmt: skip
        # The truth is judged on the ground's own grid, whatever CRS the file is in.
        masks.append(
            scene.cloud_mask if scene.crs == scenario.layout.crs else scene_masks(scenario, i)
        )
        if progress is not None:
            progress(i + 1, total)
    for j, d in enumerate(radar):
        sc = render_sar_scene(scenario, d)
        grid = Grid(sc.data.shape[2], sc.data.shape[1], sc.transform, CRS.from_user_input(sc.crs))
        path = out / "images" / f"{d.isoformat()}_s1.tif"
        write_geotiff(path, sc.data, grid, sc.bands)
        images.append(path)
        if progress is not None:
            progress(n + j + 1, total)
    events = truth_events(scenario, masks)
    truth = out / "truth" / "events.geojson"
    write_text_atomic(truth, json.dumps(truth_geojson(scenario, events), indent=1) + "\n")
    if radar:
        _write_sar_truth(scenario, radar, events, out / "truth")
    site = out / "site.geojson"
    write_text_atomic(site, json.dumps(site_to_geojson(scenario_site(scenario)), indent=1) + "\n")
    params = out / "scenario.json"
    write_text_atomic(params, json.dumps(scenario_parameters(scenario), indent=1) + "\n")
    if progress is not None:
        progress(total, total)
    return ScenarioFiles(
        out, tuple(images), site, truth, params, sum(1 for t in events if t.observed)
    )


def sar_dates(scenario: Scenario, repeat_days: int = 12) -> list[dt.date]:
    """A radar repeat cycle over the scenario's span, its phase drawn from the seed."""
    first, last = scenario.dates[0], scenario.dates[-1]
    phase = int(np.random.default_rng([scenario.seed, 12]).integers(repeat_days))
    out = []
    d = first + dt.timedelta(days=phase)
    while d <= last:
        out.append(d)
        d += dt.timedelta(days=repeat_days)
    return out


def _change_db(scenario: Scenario) -> Callable[[SimEvent, dt.date], float]:
    def change(e: SimEvent, date: dt.date) -> float:
        foot = footprint_mask(scenario.layout, e.geometry)
        a = sar_sigma0(scenario, e.onset - dt.timedelta(days=1))[:, foot]
        b = sar_sigma0(scenario, date)[:, foot]
        return float(np.mean(np.abs(10.0 * np.log10(b / a))))

    return change


def _write_sar_truth(
    scenario: Scenario, radar: list[dt.date], optical: list[TruthEvent], folder: Path
) -> None:
    """``events_sar.geojson`` and ``events_all.geojson`` (both sensors together)."""
    sar = sar_truth_events(scenario, radar, _change_db(scenario))
    visible = {t.event.event_id: v for t, v in sar}
    doc = truth_geojson(scenario, [t for t, _ in sar], visible)
    write_text_atomic(folder / "events_sar.geojson", json.dumps(doc, indent=1) + "\n")
    both = []
    for o, (s, _) in zip(optical, sar):
        seen = [d for d in (o.first_seen, s.first_seen) if d is not None]
        first = min(seen) if seen else None
        before = [d for d in (o.last_unchanged, s.last_unchanged) if d is not None]
        both.append(TruthEvent(o.event, first, max(before) if before else None))
    doc = truth_geojson(scenario, both, visible)
    write_text_atomic(folder / "events_all.geojson", json.dumps(doc, indent=1) + "\n")


def scenario_parameters(scenario: Scenario) -> dict[str, object]:
    """Everything needed to reproduce and to understand the scenario (``scenario.json``)."""
    layout = scenario.layout
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "software": f"sitewatch {__version__}",
        "size_px": layout.width,
        "pixel_m": layout.pixel_m,
        "crs": layout.crs,
        "transform": list(layout.transform)[:6],
        "bands": list(BANDS),
        "dates": [d.isoformat() for d in scenario.dates],
        "nuisance": asdict(scenario.nuisance),
        "conventions": {
            "shift_px": "image content is displaced by (rows, cols) pixels from its true "
            "place (positive: south, east); the georeferencing is not",
            "values": "top-of-atmosphere reflectance x 10000, 0 = nodata",
            "cloud_masks": "0 clear, 1 cloud, 2 cloud shadow, 255 nodata",
        },
        "truth_rule": {
            "clear_share": CLEAR_SHARE,
            "first_seen": "first acquisition on/after onset (before end) with at least "
            "clear_share of the event's pixels clear",
        },
        "acquisitions": [a.as_dict() for a in scenario.acquisitions],
        "events": [
            {
                "event_id": e.event_id,
                "zone": e.zone,
                "kind": e.kind,
                "onset": e.onset.isoformat(),
                "end": e.end.isoformat() if e.end else None,
                "label": e.label,
            }
            for e in scenario.events
        ],  # fmt: skip
    }
