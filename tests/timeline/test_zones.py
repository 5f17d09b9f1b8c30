"""Zone timelines: fractions, areas, activity and the robust anomaly z."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from sitewatch.errors import InputError
from sitewatch.timeline.zones import robust_z, zone_timeline

D = [dt.date(2024, 1, 1) + dt.timedelta(days=5 * i) for i in range(8)]
SHAPE = (20, 20)


def _labels() -> np.ndarray:
    lab = np.zeros(SHAPE, np.int64)
    lab[:10, :10] = 1  # pad: 100 px
    lab[10:, 10:] = 2  # gantry: 100 px
    return lab


def test_rows_hold_the_design_columns_site_first() -> None:
    clear = [np.ones(SHAPE, bool) for _ in D[:2]]
    clear[1][:5, :10] = False  # half the pad under cloud
    changed = [np.zeros(SHAPE, bool) for _ in D[:2]]
    changed[1][5:10, :4] = True  # 20 px in the pad
    changed[1][:5, :4] = True  # under cloud: not counted
    rows = zone_timeline(D[:2], clear, changed, _labels(), ["pad", "gantry"], 100.0)
    assert [(r.date, r.zone) for r in rows] == [
        (d, z) for d in D[:2] for z in ("_site", "pad", "gantry")
    ]
    site, pad, gantry = rows[3:]
    assert (pad.clear_fraction, pad.changed_fraction, pad.changed_area_m2) == (0.5, 0.4, 2000.0)
    assert site.clear_fraction == pytest.approx(350 / 400)
    assert site.changed_fraction == pytest.approx(20 / 350)
    assert (gantry.changed_fraction, gantry.activity_index) == (0.0, 0.0)
    assert pad.activity_index == 0.4
    assert math.isnan(pad.anomaly_z)  # no history yet


def test_barely_seen_zone_has_no_activity() -> None:
    clear = np.zeros(SHAPE, bool)
    clear[:10, :1] = True  # 10 % of the pad, nothing of the gantry
    rows = zone_timeline(D[:1], [clear], [clear], _labels(), ["pad", "gantry"], 1.0)
    _, pad, gantry = rows
    assert pad.changed_fraction == 1.0 and math.isnan(pad.activity_index)
    assert gantry.clear_fraction == 0.0 and math.isnan(gantry.changed_fraction)
    assert gantry.changed_area_m2 == 0.0


def test_quiet_site_has_zero_anomaly() -> None:
    clear = [np.ones(SHAPE, bool)] * len(D)
    changed = [np.zeros(SHAPE, bool)] * len(D)
    rows = zone_timeline(D, clear, changed, _labels(), ["pad", "gantry"], 100.0)
    z = np.array([r.anomaly_z for r in rows]).reshape(len(D), 3)
    assert np.isnan(z[:3]).all()
    assert (z[3:] == 0.0).all()


def test_burst_of_activity_stands_out() -> None:
    clear = [np.ones(SHAPE, bool)] * 5
    changed = [np.zeros(SHAPE, bool) for _ in range(5)]
    changed[4][:3, :10] = True  # 30 % of the pad
    rows = zone_timeline(D[:5], clear, changed, _labels(), ["pad", "gantry"], 100.0)
    pad = [r for r in rows if r.zone == "pad"]
    assert pad[4].anomaly_z == pytest.approx(0.3 / 0.005)
    assert pad[3].anomaly_z == 0.0


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        ([1.0, 2.0, 3.0, 2.0], [math.nan] * 3 + [0.0]),
        ([1.0, 2.0, 3.0, 5.0], [math.nan] * 3 + [3.0 / 1.482602218505602]),
        ([0.0, math.nan, 0.0, 0.0, 0.01], [math.nan] * 4 + [2.0]),
        ([0.0, 0.0, 0.0, math.nan], [math.nan] * 4),
    ],
)
def test_robust_z_uses_only_earlier_values(x: list[float], expected: list[float]) -> None:
    np.testing.assert_allclose(robust_z(x), expected)


@pytest.mark.parametrize(
    ("dates", "n_clear", "n_changed", "shape", "match"),
    [
        ([D[1], D[0]], 2, 2, SHAPE, "strictly increasing"),
        (D[:2], 1, 2, SHAPE, "1 and 2 masks for 2 dates"),
        (D[:2], 2, 2, (5, 5), "zone_labels: shape"),
    ],
)
def test_bad_input_is_named(
    dates: list[dt.date], n_clear: int, n_changed: int, shape: tuple[int, int], match: str
) -> None:
    clear = [np.ones(shape, bool)] * n_clear
    changed = [np.zeros(shape, bool)] * n_changed
    with pytest.raises(InputError, match=match):
        zone_timeline(dates, clear, changed, _labels(), ["pad", "gantry"], 100.0)


def test_masks_of_another_grid_are_refused() -> None:
    clear = [np.ones(SHAPE, bool), np.ones((5, 5), bool)]
    with pytest.raises(InputError, match="do not match"):
        zone_timeline(D[:2], clear, clear, None, [], 1.0)


def test_no_zones_gives_site_rows_only() -> None:
    rows = zone_timeline(
        D[:3], [np.ones(SHAPE, bool)] * 3, [np.zeros(SHAPE, bool)] * 3, None, [], 1
    )
    assert [r.zone for r in rows] == ["_site"] * 3
