"""Reading a run folder back for assessment; writing assessment.json and status.csv."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from sitewatch.errors import InputError, MissingFileError
from sitewatch.io.assessment import (
    read_assessment,
    read_events,
    read_run,
    read_timeline,
    write_assessment,
)
from sitewatch.io.outputs import OutputFolder
from sitewatch.io.raster import Grid
from sitewatch.models import (
    Assessment,
    Event,
    GrowthStep,
    IndicatorResult,
    StatusPoint,
    ZoneTimelineRow,
)

GRID = Grid(40, 30, Affine(3, 0, 646000.0, 0, -3, 4391500.0), CRS.from_epsg(32651))
D1, D2, D3 = dt.date(2019, 2, 11), dt.date(2019, 2, 19), dt.date(2019, 2, 28)


def _event(eid: str, first: dt.date, kind: str, confirmed_on: dt.date | None) -> Event:
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:4] = True
    return Event(
        eid, first, D1, "engine_test_stand", kind, 54.0, 0.9, 1e-6,  # type: ignore[arg-type]
        confirmed_on is not None, confirmed_on, 0.2, (GrowthStep(first, 54.0),), mask, (5, 6),
        GRID.shape,
    )  # fmt: skip


def _rows() -> list[ZoneTimelineRow]:
    return [
        ZoneTimelineRow(d, z, 1.0, 0.01 * i, 9.0 * i, 0.01 * i, math.nan if i < 2 else 2.5)
        for i, d in enumerate((D1, D2, D3)) for z in ("_site", "engine_test_stand")
    ]  # fmt: skip


def _run_folder(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    folder = OutputFolder(out)
    folder.write_events([_event("e0001", D2, "appeared", D3), _event("e0002", D3, "modified",
                                                                       None)], GRID)  # fmt: skip
    folder.write_timeline(_rows())
    folder.write_json("run.json", {"site": "Sohae", "scenes": []})
    folder.commit()
    return out


def test_read_run_round_trip(tmp_path: Path) -> None:
    run = read_run(_run_folder(tmp_path))
    assert run.site == "Sohae" and run.dates == (D1, D2, D3)
    rows = _rows()
    assert len(run.timeline) == len(rows)
    for got, want in zip(run.timeline, rows):
        assert (got.date, got.zone) == (want.date, want.zone)
        assert np.allclose(
            [got.changed_area_m2, got.activity_index, got.anomaly_z],
            [want.changed_area_m2, want.activity_index, want.anomaly_z], equal_nan=True,
        )  # fmt: skip
    e1, e2 = run.events
    assert (e1.event_id, e1.first_seen, e1.last_unchanged, e1.kind, e1.zone, e1.area_m2) == (
        "e0001", D2, D1, "appeared", "engine_test_stand", 54.0
    )
    # events.geojson has no settlement date: the earliest possible one is assumed
    assert (e1.confirmed_on, e2.confirmed_on) == (D3, None)
    assert e1.growth == (GrowthStep(D2, 54.0),)


def test_settlement_and_growth_read_when_written(tmp_path: Path) -> None:
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None,
          "properties": {"event_id": "e0007", "first_seen": "2019-02-19", "last_unchanged": None,
                         "zone": None, "kind": "appeared", "area_m2": 90.0, "score": 0.8,
                         "p_value": 1e-5, "confirmed": False, "confirmed_on": None,
                         "growth": [{"date": "2019-02-19", "area_m2": 40.0},
                                    {"date": "2019-02-28", "area_m2": 90.0}]}}]}  # fmt: skip
    p = tmp_path / "events.geojson"
    p.write_text(json.dumps(fc))
    (e,) = read_events(p, [D1, D2, D3])
    assert e.confirmed_on is None and not e.confirmed
    assert [s.area_m2 for s in e.growth] == [40.0, 90.0]


@pytest.mark.parametrize("missing", ["events.geojson", "timeline.csv"])
def test_run_folder_missing_a_file(tmp_path: Path, missing: str) -> None:
    out = _run_folder(tmp_path)
    (out / missing).unlink()
    with pytest.raises(MissingFileError, match=rf"has no {missing}; rerun sitewatch run"):
        read_run(out)


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("events.geojson", "{not json", "not JSON"),
        ("events.geojson", '{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
        ("events.geojson", '{"type": "FeatureCollection", "features": [{"properties": '
         '{"event_id": "e1", "first_seen": "2019-02-30", "kind": "appeared", "area_m2": 1}}]}',
         "feature 0: first_seen '2019-02-30' is not an ISO date"),
        ("timeline.csv", "date,zone\n", "lack clear_fraction"),
        ("timeline.csv", "date,zone,clear_fraction,changed_fraction,changed_area_m2,"
         "activity_index,anomaly_z\n2019-02-11,_site,1,x,0,0,\n", "line 2: "),
    ],
)  # fmt: skip
def test_malformed_files(tmp_path: Path, name: str, text: str, match: str) -> None:
    p = tmp_path / name
    p.write_text(text)
    reader = read_events if name == "events.geojson" else read_timeline
    with pytest.raises(InputError, match=match):
        reader(p)


def _assessment() -> Assessment:
    ind = (
        IndicatorResult("structural_change", "engine_test_stand", "changed_area_m2", 400.0,
                        150.0, True, "high", ("e0001",), 0.0),
        IndicatorResult("rapid_progress", None, "activity_anomaly", math.nan, 3.0, False,
                        "elevated"),
    )  # fmt: skip
    hist = (StatusPoint(D1, "quiet", 0.0), StatusPoint(D2, "elevated", 0.61),
            StatusPoint(D3, "high", 0.9))  # fmt: skip
    return Assessment("Sohae", "launch_site", D3, "high", 0.9, ind, "Summary.", hist)


def test_assessment_round_trip(tmp_path: Path) -> None:
    a = _assessment()
    paths = write_assessment(tmp_path, a)
    assert set(paths) == {"assessment.json", "status.csv"}
    obj = json.loads(paths["assessment.json"].read_text())
    assert {"site", "as_of", "status", "score", "indicators", "summary"} <= set(obj)
    assert obj["indicators"][1]["value"] is None  # NaN is not JSON
    assert paths["status.csv"].read_text().splitlines() == [
        "date,status,score", "2019-02-11,quiet,0.000", "2019-02-19,elevated,0.610",
        "2019-02-28,high,0.900",
    ]  # fmt: skip
    back = read_assessment(paths["assessment.json"])
    assert back.indicators[0] == a.indicators[0] and math.isnan(back.indicators[1].value)
    assert (back.history, back.status, back.as_of, back.summary) == (
        a.history, a.status, a.as_of, a.summary
    )
    # nothing but the two files: no temporary leftovers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["assessment.json", "status.csv"]


def test_write_assessment_needs_the_folder(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="does not exist"):
        write_assessment(tmp_path / "nope", _assessment())


def test_bad_assessment_json(tmp_path: Path) -> None:
    p = tmp_path / "assessment.json"
    p.write_text('{"site": "x", "as_of": "2019-01-01", "status": "panic", "score": 1,'
                 ' "indicators": [], "summary": ""}')  # fmt: skip
    with pytest.raises(InputError, match="status 'panic'"):
        read_assessment(p)
