"""Write a rendered scenario to a folder: images, site file, truth and parameters.

Layout of ``out_dir``::

    images/<YYYY-MM-DD>.tif      4-band uint16 (blue, green, red, nir), nodata 0
    site.geojson                 the site, its zones and the Hanoi summit
    truth/events.geojson         the events, as sitewatch run's events.geojson, plus onsets
    truth/clouds/<date>.tif      cloud mask classes (0 clear, 1 cloud, 2 shadow, 255 nodata)
    scenario.json                seed, dates and every drawn parameter

Each file is written atomically through :mod:`sitewatch.io.writers`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from rasterio.crs import CRS

from .. import __version__
from ..errors import OutputError
from ..io.raster import Grid
from ..io.writers import write_geotiff, write_text_atomic
from ..models import Site, Zone
from ..sites import site_to_geojson
from .layout import to_lonlat
from .render import BANDS, NODATA, render_scene, scene_masks
from .scenarios import Scenario
from .truth import CLEAR_SHARE, truth_events, truth_geojson

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
    progress : callable or None
        Called with (done, total) after each date.
    """
    out = Path(out_dir)
    _prepare(out, overwrite)
    n = len(scenario.acquisitions)
    total = n + 1
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
    events = truth_events(scenario, masks)
    truth = out / "truth" / "events.geojson"
    write_text_atomic(truth, json.dumps(truth_geojson(scenario, events), indent=1) + "\n")
    site = out / "site.geojson"
    write_text_atomic(site, json.dumps(site_to_geojson(scenario_site(scenario)), indent=1) + "\n")
    params = out / "scenario.json"
    write_text_atomic(params, json.dumps(scenario_parameters(scenario), indent=1) + "\n")
    if progress is not None:
        progress(total, total)
    return ScenarioFiles(
        out, tuple(images), site, truth, params, sum(1 for t in events if t.observed)
    )


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
