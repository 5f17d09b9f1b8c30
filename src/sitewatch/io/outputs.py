"""The output folder of ``sitewatch run``: events, timeline, change maps and run record.

Formats (see DESIGN.md, "Output folder of sitewatch run"):

* ``events.geojson``: RFC 7946 FeatureCollection in EPSG:4326, one feature per
  event with ``event_id, first_seen, last_unchanged, zone, kind, area_m2,
  score, p_value``; polygons traced from the event footprints.
* ``timeline.csv``: ``date, zone, clear_fraction, changed_fraction,
  changed_area_m2, activity_index, anomaly_z`` (zone ``_site``: the whole site).
* ``change/<date>.tif``: Cloud-Optimized GeoTIFF, band 1 the decision (1
  change, 0 no change, 255 not judged), band 2 the p-value scaled as
  ``round(-10 * log10(p))`` clipped to 0..254 (so 20 means p = 0.01, 254 means
  p <= 1e-25.4), 255 where not judged; nodata 255.
* ``run.json``: inputs, scene ids, parameters, software version, sha256 of inputs.

Every file is written under a temporary name and renamed into place only when
the whole run succeeded (:class:`OutputFolder`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.features
import shapely
from affine import Affine
from pyproj import Geod
from rasterio.warp import transform_geom
from shapely.geometry import mapping, shape
from shapely.ops import unary_union

from ..errors import OutputError
from ..models import Event, ZoneTimelineRow
from .raster import Grid
from .writers import NOT_JUDGED, Commit

__all__ = [
    "RUN_MARKERS",
    "TIMELINE_COLUMNS",
    "OutputFolder",
    "event_features",
    "p_to_uint8",
    "sha256_file",
]

TIMELINE_COLUMNS = (
    "date", "zone", "clear_fraction", "changed_fraction", "changed_area_m2",
    "activity_index", "anomaly_z", "sensor",
)  # fmt: skip
#: files whose presence says a folder already holds a run
RUN_MARKERS = ("run.json", "events.geojson", "timeline.csv")

_GEOD = Geod(ellps="WGS84")


def p_to_uint8(p: np.ndarray) -> np.ndarray:
    """Scale p-values to uint8: ``round(-10 log10 p)`` clipped to 0..254; 255 where NaN."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, NOT_JUDGED, np.uint8)
    ok = np.isfinite(p)
    with np.errstate(divide="ignore"):
        s = -10.0 * np.log10(np.clip(p[ok], 1e-300, 1.0))
    out[ok] = np.clip(np.round(s), 0, 254).astype(np.uint8)
    return out


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _json_float(x: float, digits: int) -> float | None:
    return round(float(x), digits) if math.isfinite(x) else None


def event_features(events: Sequence[Event], grid: Grid) -> list[dict[str, Any]]:
    """GeoJSON features (EPSG:4326, counter-clockwise exteriors) of the events' footprints."""
    feats = []
    for e in events:
        r, c = e.offset
        transform = grid.transform @ Affine.translation(c, r)
        polys = [
            shape(g)
            for g, v in rasterio.features.shapes(
                e.mask.astype(np.uint8), mask=e.mask, connectivity=8, transform=transform
            )
            if v == 1
        ]
        geom = unary_union(polys) if len(polys) > 1 else polys[0]
        ll = shape(transform_geom(grid.crs, "EPSG:4326", mapping(geom), precision=7))
        ll = shapely.orient_polygons(ll)
        props = {
            "event_id": e.event_id,
            "first_seen": e.first_seen.isoformat(),
            "last_unchanged": e.last_unchanged.isoformat() if e.last_unchanged else None,
            "zone": e.zone,
            "kind": e.kind,
            "area_m2": round(float(e.area_m2), 1),
            "score": _json_float(e.score, 4),
            "p_value": float(e.p_value) if math.isfinite(e.p_value) else None,
            "sensors": list(e.sensors),
            "confirmed": e.confirmed,
            "confirmed_on": e.confirmed_on.isoformat() if e.confirmed_on else None,
            "growth": [
                {"date": g.date.isoformat(), "area_m2": round(float(g.area_m2), 1)}
                for g in e.growth
            ],
        }
        feats.append({"type": "Feature", "properties": props, "geometry": mapping(ll)})
    return feats


def _cog_driver() -> str:
    with rasterio.Env() as env:
        return "COG" if "COG" in env.drivers() else "GTiff"


class OutputFolder:
    """The run's output folder; files appear only when :meth:`commit` is called.

    Parameters
    ----------
    out_dir
        Created if missing; refused when it already holds a run unless ``overwrite``.
    overwrite
        Replace an earlier run's files (stale ``change/*.tif`` are removed on commit).
    """

    def __init__(self, out_dir: str | Path, overwrite: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.overwrite = overwrite
        self._commit = Commit()
        self._created: list[Path] = []
        self._written: list[Path] = []
        self.check()

    def check(self) -> None:
        """Refuse a file, or a folder holding a run when not overwriting (before any work)."""
        d = self.out_dir
        if d.exists() and not d.is_dir():
            raise OutputError(f"--out: {d} is a file; give a folder")
        if d.is_dir() and not self.overwrite:
            held = [m for m in RUN_MARKERS if (d / m).exists()] + (
                ["change/"] if any((d / "change").glob("*.tif")) else []
            )
            if held:
                raise OutputError(
                    f"--out: {d} already holds a run ({', '.join(held)}); give a new folder "
                    "or pass --overwrite"
                )
        parent = d if d.exists() else d.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not os.access(parent, os.W_OK):
            raise OutputError(f"--out: {parent} is not writable; choose another folder")

    def _mkdir(self, d: Path) -> None:
        missing = []
        p = d
        while not p.exists():
            missing.append(p)
            p = p.parent
        d.mkdir(parents=True, exist_ok=True)
        self._created.extend(reversed(missing))

    def reserve(self, relative: str) -> Path:
        """A temporary path that becomes ``out_dir / relative`` on commit."""
        final = self.out_dir / relative
        self._mkdir(final.parent)
        self._written.append(final)
        return self._commit.reserve(final)

    def write_change_map(self, date_text: str, decision: np.ndarray, p: np.ndarray,
                         grid: Grid) -> None:  # fmt: skip
        """``change/<date>.tif``: decision (1/0/255) and scaled p-value, nodata 255."""
        tmp = self.reserve(f"change/{date_text}.tif")
        data = np.stack([decision.astype(np.uint8), p_to_uint8(p)])
        driver = _cog_driver()
        profile: dict[str, Any] = dict(
            driver=driver, width=grid.width, height=grid.height, count=2, dtype="uint8",
            nodata=NOT_JUDGED, crs=grid.crs, transform=grid.transform, compress="deflate",
        )  # fmt: skip
        if driver == "GTiff":
            profile.update(tiled=True, blockxsize=256, blockysize=256)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with rasterio.open(tmp, "w", **profile) as ds:
                ds.write(data)
                ds.set_band_description(1, "decision: 1 change, 0 no change, 255 not judged")
                ds.set_band_description(2, "p-value: round(-10 log10 p) clipped to 254")
                if driver == "GTiff":
                    ds.build_overviews([2, 4, 8], rasterio.enums.Resampling.nearest)

    def write_events(self, events: Sequence[Event], grid: Grid, **meta: Any) -> None:
        """``events.geojson``."""
        fc: dict[str, Any] = {"type": "FeatureCollection", "features": event_features(events, grid)}
        fc.update(meta)
        self.reserve("events.geojson").write_text(json.dumps(fc, indent=1) + "\n")

    def write_timeline(self, rows: Iterable[ZoneTimelineRow]) -> None:
        """``timeline.csv``; NaN is written as an empty field."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(TIMELINE_COLUMNS)
        for r in rows:
            w.writerow([
                r.date.isoformat(), r.zone,
                *(("" if not math.isfinite(v) else f"{v:.6g}") for v in (
                    r.clear_fraction, r.changed_fraction, r.changed_area_m2,
                    r.activity_index, r.anomaly_z,
                )),
                r.sensor,
            ])  # fmt: skip
        self.reserve("timeline.csv").write_text(buf.getvalue())

    def write_json(self, relative: str, obj: object) -> None:
        """A JSON file (e.g. ``run.json``)."""
        self.reserve(relative).write_text(json.dumps(obj, indent=1) + "\n")

    def commit(self) -> dict[str, Path]:
        """Rename every file into place; drop change maps of an earlier run's other dates."""
        keep = set(self._written)
        self._commit.commit()
        for old in (self.out_dir / "change").glob("*.tif"):
            if old not in keep:
                old.unlink()
        return {p.relative_to(self.out_dir).as_posix(): p for p in self._written}

    def abort(self) -> None:
        """Remove the temporary files and the folders this run created."""
        self._commit.abort()
        for d in reversed(self._created):
            try:
                d.rmdir()
            except OSError:
                pass
