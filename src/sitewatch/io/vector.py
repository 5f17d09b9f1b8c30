"""Change polygons from a mask, as RFC 7946 GeoJSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import rasterio.features
from pyproj import Geod
from rasterio.warp import transform_geom
from scipy import ndimage as ndi
from shapely.geometry import mapping, shape

from .raster import Grid

_GEOD = Geod(ellps="WGS84")


def mask_features(mask: np.ndarray, grid: Grid, p_value: np.ndarray | None = None) -> list[dict]:
    """Polygons of the pixels equal to 1 in ``mask``, as GeoJSON features.

    Georeferenced grids give EPSG:4326 lon/lat coordinates and ``area_m2``;
    pixel-space grids give (column, row) coordinates and no ground area.
    ``p_value``, when given, adds each region's smallest p-value.
    """
    change = mask == 1
    feats: list[dict] = []
    if not change.any():
        return feats
    labels, n = ndi.label(change, structure=np.ones((3, 3), bool))
    labels = labels.astype(np.int32)
    min_p = None
    if p_value is not None:
        p = np.where(np.isfinite(p_value), p_value, 1.0)
        min_p = np.asarray(ndi.minimum(p, labels, index=np.arange(n + 1)))
    for geom, value in rasterio.features.shapes(
        labels, mask=change, connectivity=8, transform=grid.transform
    ):
        region = int(value)
        area_px = round(shape(geom).area / grid.pixel_area)  # not int(): 99.9999 is 100 px
        props: dict[str, Any] = {"change_id": f"c{len(feats) + 1:05d}", "area_px": area_px}
        if grid.crs is not None:
            geom = transform_geom(grid.crs, "EPSG:4326", geom, precision=7)
            area, _ = _GEOD.geometry_area_perimeter(shape(geom))
            props["area_m2"] = round(abs(area), 1)
        if min_p is not None:
            props["p_value"] = float(min_p[region])
        feats.append({"type": "Feature", "geometry": mapping(shape(geom)), "properties": props})
    return feats


def write_feature_collection(path: Path, features: list[dict], grid: Grid, **meta: Any) -> None:
    """Write a FeatureCollection; pixel-space output says so in a foreign member."""
    fc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if grid.crs is None:
        fc["coordinate_space"] = "pixel"
        fc["description"] = (
            "The source images carry no georeferencing: coordinates are (column, row) "
            "pixel positions, not longitude/latitude."
        )
    fc.update(meta)
    path.write_text(json.dumps(fc, indent=None, separators=(",", ":")) + "\n")
