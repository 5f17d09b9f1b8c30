"""``results.json``: a STAC ItemCollection of a run's outputs, for users who keep catalogs.

One item per change map (``change/<date>.tif``, or ``change/<date>_sar.tif``),
dated like its acquisition, ``derived_from`` the input scene; and one item for the
run as a whole (events, timeline, assessment, report, run record) spanning the
series.  Asset hrefs are relative to the run folder, so the folder can move.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pystac
from shapely.geometry import mapping

from ..models import Site
from .writers import write_text_atomic

__all__ = ["ResultScene", "results_collection", "write_results"]

_COG = "image/tiff; application=geotiff; profile=cloud-optimized"
_MEDIA = {
    ".geojson": "application/geo+json",
    ".csv": "text/csv",
    ".json": "application/json",
    ".html": "text/html",
}


ResultScene = tuple[dt.date, str, str, str]  # date, scene id, sensor, its first asset href


def _utc(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc)


def results_collection(
    site: Site, scenes: Sequence[ResultScene], files: Mapping[str, Path], out_dir: Path
) -> pystac.ItemCollection:
    """The ItemCollection describing ``files`` (name -> path) of a run in ``out_dir``."""
    geom = mapping(site.geometry)
    bbox = list(site.geometry.bounds)
    items = []
    for date, scene_id, sensor, href in scenes:
        name = f"change/{date.isoformat()}{'_sar' if sensor == 'sar' else ''}.tif"
        if not (out_dir / name).is_file():
            continue
        item = pystac.Item(
            id=f"{site.name}-change-{date.isoformat()}-{sensor}", geometry=geom, bbox=bbox,
            datetime=_utc(date),
            properties={"sitewatch:sensor": sensor, "sitewatch:scene_id": scene_id},
        )  # fmt: skip
        item.add_asset(
            "change", pystac.Asset(name, media_type=_COG, roles=["data"],
                                   title="decision (1/0/255) and scaled p-value")
        )  # fmt: skip
        item.add_link(pystac.Link("derived_from", href, title=scene_id))
        items.append(item)
    dates = [s[0] for s in scenes]
    run = pystac.Item(
        id=f"{site.name}-run", geometry=geom, bbox=bbox, datetime=None,
        properties={
            "start_datetime": _utc(min(dates)).isoformat() if dates else None,
            "end_datetime": _utc(max(dates)).isoformat() if dates else None,
            "sitewatch:site": site.name,
        },
    )  # fmt: skip
    for key, path in sorted(files.items()):
        rel = Path(path).resolve().relative_to(out_dir.resolve()).as_posix()
        run.add_asset(
            key.replace(".", "_"),
            pystac.Asset(rel, media_type=_MEDIA.get(Path(rel).suffix), roles=["metadata"]),
        )
    return pystac.ItemCollection([*items, run])


def write_results(
    out_dir: str | Path, site: Site, scenes: Sequence[ResultScene], files: Mapping[str, Path]
) -> Path:
    """Write ``results.json`` into ``out_dir`` atomically; return its path."""
    out = Path(out_dir)
    collection = results_collection(site, scenes, files, out)
    path = out / "results.json"
    write_text_atomic(path, json.dumps(collection.to_dict(transform_hrefs=False), indent=1) + "\n")
    return path
