"""CUSUM: calibrated threshold, in-control false-alarm rate, detection of a step."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sitewatch.errors import InputError
from sitewatch.timeline.changepoints import (
    DEFAULT_ARL0,
    cusum,
    cusum_arl,
    cusum_path,
    cusum_threshold,
)

D = [dt.date(2023, 1, 1) + dt.timedelta(days=5 * i) for i in range(60)]


@pytest.mark.parametrize(("h", "arl"), [(4.0, 336.0), (5.0, 930.0)])
def test_arl_matches_the_published_one_sided_values(h: float, arl: float) -> None:
    # unclipped N(0, 1), k = 0.5 (Siegmund's approximation and ARL tables agree within 1 %)
    assert cusum_arl(h, 0.5, clip=None) == pytest.approx(arl, rel=0.01)


def test_default_threshold_is_the_documented_one() -> None:
    h = cusum_threshold()
    assert h == pytest.approx(4.094, abs=1e-3)
    assert cusum_arl(h) == pytest.approx(DEFAULT_ARL0, rel=1e-3)
    assert cusum_arl(h, shift=3.0) < 2.5


@pytest.mark.parametrize("arl0", [100.0, 370.0])
def test_in_control_false_alarm_rate_is_the_stated_one(arl0: float) -> None:
    h = cusum_threshold(arl0)
    z = np.random.default_rng(7).standard_normal((200, 1500))  # 300 000 observations
    _, alarm = cusum_path(z, h)
    rate = alarm.mean()
    assert rate == pytest.approx(1.0 / arl0, rel=0.15)


def test_step_alarms_within_a_few_dates() -> None:
    rng = np.random.default_rng(1)
    z = rng.standard_normal(len(D))
    z[40:] += 3.0
    out = cusum(D, z)
    assert out.alarm_index and 40 <= out.alarm_index[0] <= 43
    assert all(i >= 40 for i in out.alarm_index)
    assert out.alarms[0] == D[out.alarm_index[0]]
    assert out.false_alarm_rate == pytest.approx(1 / 370.0)


def test_no_alarm_on_quiet_series_and_nan_is_skipped() -> None:
    z = np.zeros(len(D))
    z[:3] = np.nan
    z[10] = 50.0  # one wild date is clipped to 4 and cannot alarm alone
    out = cusum(D, z)
    assert out.alarms == ()
    assert np.isfinite(out.statistic).all() and out.statistic[10] == pytest.approx(3.5)


def test_explicit_threshold_reports_its_run_length() -> None:
    out = cusum(D[:5], [0.0] * 5, h=4.0, clip=None)
    assert out.arl0 == pytest.approx(336.0, rel=0.01)


@pytest.mark.parametrize(
    ("dates", "z", "kw", "match"),
    [
        (D[:3], [0.0, 0.0], {}, r"z: shape \(2,\) for 3 dates"),
        ([D[2], D[1], D[3]], [0.0] * 3, {}, "strictly increasing"),
        (D[:3], [0.0] * 3, {"k": -1.0}, "k: -1.0"),
        (D[:3], [0.0] * 3, {"clip": 0.2}, "clip: 0.2"),
        (D[:3], [0.0] * 3, {"arl0": 1.0}, "arl0: 1.0"),
        (D[:3], [0.0] * 3, {"h": -2.0}, "h: -2.0"),
    ],
)
def test_bad_input_is_named(
    dates: list[dt.date], z: list[float], kw: dict[str, float], match: str
) -> None:
    with pytest.raises(InputError, match=match):
        cusum(dates, z, **kw)
