"""The run output folder writers (``sitewatch.io.outputs``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from sitewatch.errors import OutputError
from sitewatch.io.outputs import OutputFolder, event_features, p_to_uint8
from sitewatch.io.raster import Grid
from sitewatch.models import Event, GrowthStep, ZoneTimelineRow

GRID = Grid(50, 40, Affine(3, 0, 646000.0, 0, -3, 4391500.0), CRS.from_epsg(32651))


def _event() -> Event:
    mask = np.zeros((5, 6), bool)
    mask[1:4, 1:5] = True
    d = dt.date(2020, 3, 1)
    return Event(
        "e0001", d, dt.date(2020, 2, 20), "pad", "appeared", 108.0, 0.9, 1e-6, True, d, 0.2,
        (GrowthStep(d, 108.0),), mask, (10, 20), GRID.shape,
    )  # fmt: skip


def test_p_to_uint8() -> None:
    out = p_to_uint8(np.array([1.0, 0.01, 1e-30, np.nan, 0.0]))
    assert out.tolist() == [0, 20, 254, 255, 254]


def test_event_features_in_lonlat() -> None:
    (f,) = event_features([_event()], GRID)
    p = f["properties"]
    assert p == {
        "event_id": "e0001", "first_seen": "2020-03-01", "last_unchanged": "2020-02-20",
        "zone": "pad", "kind": "appeared", "area_m2": 108.0, "score": 0.9, "p_value": 1e-6,
        "sensors": ["optical"], "confirmed": True, "confirmed_on": "2020-03-01",
        "growth": [{"date": "2020-03-01", "area_m2": 108.0}],
    }  # fmt: skip
    ring = np.asarray(f["geometry"]["coordinates"][0])
    assert (np.abs(ring[:, 0] - 124.7) < 0.1).all() and (np.abs(ring[:, 1] - 39.66) < 0.1).all()
    # counter-clockwise exterior (RFC 7946): positive shoelace area
    x, y = ring[:, 0], ring[:, 1]
    assert np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]) > 0


def test_folder_commits_together_and_refuses_a_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    folder = OutputFolder(out)
    dec = np.zeros(GRID.shape, np.uint8)
    dec[0] = 255
    p = np.full(GRID.shape, 0.5)
    p[0] = np.nan
    folder.write_change_map("2020-03-01", dec, p, GRID)
    folder.write_events([_event()], GRID)
    row = ZoneTimelineRow(dt.date(2020, 3, 1), "_site", 1.0, 0.1, 9.0, 0.1, float("nan"))
    folder.write_timeline([row])
    folder.write_json("run.json", {"a": 1})
    assert not (out / "events.geojson").exists()  # nothing visible before commit
    folder.commit()
    assert sorted(p.name for p in out.iterdir()) == [
        "change", "events.geojson", "run.json", "timeline.csv",
    ]  # fmt: skip
    row = (out / "timeline.csv").read_text().splitlines()[1]
    assert row == "2020-03-01,_site,1,0.1,9,0.1,,optical"
    assert json.loads((out / "events.geojson").read_text())["features"][0]["properties"]["zone"]
    with rasterio.open(out / "change" / "2020-03-01.tif") as ds:
        assert ds.count == 2 and ds.nodata == 255
        assert ds.read(2)[0].tolist() == [255] * GRID.width
    with pytest.raises(OutputError):
        OutputFolder(out)
    OutputFolder(out, overwrite=True).commit()  # allowed; nothing new written


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "new" / "run"
    folder = OutputFolder(out)
    folder.write_json("run.json", {})
    folder.write_change_map("2020-03-01", np.zeros(GRID.shape, np.uint8), np.ones(GRID.shape), GRID)
    folder.abort()
    assert not (tmp_path / "new").exists()
