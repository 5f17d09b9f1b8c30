from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from reportkit import BANDS, DATES, RADAR_DATES, build_inputs, site_and_grid, square_event

from sitewatch.errors import InputError
from sitewatch.report import ImageSeries, RadarSeries, ReportInputs


@pytest.mark.parametrize(
    ("dates", "bands", "shape", "match"),
    [
        (DATES, BANDS, (4, 4, 8), "give \\(dates, bands, h, w\\)"),
        (DATES[:3], BANDS, (4, 4, 8, 8), "does not match 3 dates"),
        ((DATES[1], DATES[0]), BANDS, (2, 4, 8, 8), "not increasing and unique"),
        ((DATES[0], DATES[0]), BANDS, (2, 4, 8, 8), "not increasing and unique"),
        (DATES[:1], ("nir", "swir16", "red", "green"), (1, 4, 8, 8), "lack blue"),
    ],
)
def test_image_series_validation(
    dates: tuple[dt.date, ...], bands: tuple[str, ...], shape: tuple[int, ...], match: str
) -> None:
    with pytest.raises(InputError, match=match):
        ImageSeries(dates, bands, np.zeros(shape, np.float32))


def test_image_series_rgb_and_date_lookup() -> None:
    data = np.zeros((len(DATES), 4, 2, 3), np.float32)
    data[:, BANDS.index("red")] = 3.0
    s = ImageSeries(DATES, BANDS, data)
    assert s.rgb(1).shape == (2, 3, 3)
    assert s.rgb(1)[0, 0].tolist() == [3.0, 0.0, 0.0]
    assert s.index_on_or_before(DATES[2]) == 2
    assert s.index_on_or_before(DATES[2] + dt.timedelta(days=1)) == 2
    assert s.index_on_or_before(DATES[0] - dt.timedelta(days=1)) is None
    assert s.index_on_or_after(DATES[0] + dt.timedelta(days=1)) == 1
    assert s.index_on_or_after(DATES[-1] + dt.timedelta(days=1)) is None


def test_image_series_valid_mask_blanks_pixels_without_touching_data() -> None:
    data = np.ones((2, 4, 2, 2), np.float32)
    valid = np.ones((2, 2, 2), bool)
    valid[1, 0, 1] = False
    s = ImageSeries(DATES[:2], BANDS, data, valid=valid)
    assert np.isnan(s.rgb(1)[0, 1]).all() and np.isfinite(s.rgb(0)).all()
    assert np.isfinite(data).all()
    with pytest.raises(InputError, match="valid: mask of shape \\(2, 3, 3\\)"):
        ImageSeries(DATES[:2], BANDS, data, valid=np.ones((2, 3, 3), bool))


def test_report_inputs_rejects_a_series_of_another_grid() -> None:
    good = build_inputs()
    small = ImageSeries(DATES, BANDS, np.zeros((len(DATES), 4, 5, 5), np.float32))
    with pytest.raises(InputError, match="do not fit the 90 x 72 px site grid"):
        dataclasses.replace(good, series=small)


def test_report_inputs_rejects_events_of_another_grid() -> None:
    good = build_inputs()
    grid, _ = site_and_grid()
    other = dataclasses.replace(grid, width=grid.width + 1)
    with pytest.raises(InputError, match="e9 lives on a"):
        dataclasses.replace(good, events=(square_event("e9", (1, 1), 2, other),))


def test_report_inputs_sorts_scenes_and_finds_them_by_date() -> None:
    good = build_inputs()
    shuffled = ReportInputs(
        good.site, good.grid, good.assessment, good.events, good.timeline,
        tuple(reversed(good.scenes)), good.series,
    )  # fmt: skip
    assert [s.date for s in shuffled.scenes] == list(DATES)
    found = shuffled.scene_on(DATES[1])
    assert found is not None and found.scene_id == "S2_20190211"
    assert shuffled.scene_on(dt.date(2000, 1, 1)) is None


def test_radar_series_in_db_blanks_invalid_and_non_positive_pixels() -> None:
    data = np.full((2, 2, 1, 3), 0.1, np.float32)
    data[:, 1] = 0.01
    data[1, 0, 0, 2] = 0.0  # not a valid intensity: no dB value
    valid = np.ones((2, 1, 3), bool)
    valid[1, 0, 1] = False
    r = RadarSeries(DATES[:2], ("vh", "vv"), data, valid, ("a", "b"))
    assert r.db_band == "vv"  # co-polarised first, whatever the stack order
    assert r.db(0).tolist() == [[pytest.approx(-20.0)] * 3]
    assert r.db(0, "vh").tolist() == [[pytest.approx(-10.0)] * 3]
    assert np.isnan(r.db(1)[0, 1]) and np.isfinite(r.db(1)[0, 0])
    assert np.isnan(r.mean_db(1)[0, 2])  # one polarisation missing blanks the mean
    assert r.mean_db(0)[0, 0] == pytest.approx(-15.0)
    assert r.scene_id(1) == "b"
    assert RadarSeries(DATES[:2], ("hv",), data[:, :1]).scene_id(0) == "n/a"
    assert r.index_before(DATES[1]) == 0 and r.index_before(DATES[0]) is None
    assert r.index_on_or_after(DATES[1]) == 1


@pytest.mark.parametrize(
    ("shape", "ids", "valid_shape", "match"),
    [
        ((3, 2, 4), (), None, "give \\(dates, bands, h, w\\)"),
        ((2, 2, 4, 4), (), None, "does not match 3 dates"),
        ((3, 1, 4, 4), (), None, "and 2 polarisations"),
        ((3, 2, 4, 4), ("a",), None, "1 ids for 3 radar dates"),
        ((3, 2, 4, 4), (), (3, 4, 5), "valid: mask of shape"),
    ],
)
def test_radar_series_validation(
    shape: tuple[int, ...], ids: tuple[str, ...], valid_shape: tuple[int, ...] | None, match: str
) -> None:
    valid = None if valid_shape is None else np.ones(valid_shape, bool)
    with pytest.raises(InputError, match=match):
        RadarSeries(RADAR_DATES, ("vv", "vh"), np.ones(shape, np.float32), valid, ids)


def test_report_inputs_need_a_series_of_the_grid() -> None:
    good = build_inputs(radar=True)
    with pytest.raises(InputError, match="series, radar: both None"):
        dataclasses.replace(good, series=None, radar=None)
    assert good.radar is not None
    small = RadarSeries(RADAR_DATES, ("vv",), np.ones((3, 1, 5, 5), np.float32))
    with pytest.raises(InputError, match="radar: images of 5 x 5 px do not fit"):
        dataclasses.replace(good, radar=small)
    radar_only = dataclasses.replace(good, series=None)
    found = radar_only.scene_on(RADAR_DATES[0], "sar")
    assert found is not None and found.scene_id == "S1_20190205"
    assert radar_only.scene_on(RADAR_DATES[0]) is None  # no optical scene that day
