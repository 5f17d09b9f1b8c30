import datetime as dt

import pytest

from sitewatch.preprocess.sun import sun_position


def test_morning_sun_is_south_east_and_higher_in_summer() -> None:
    el_jun, az_jun = sun_position(dt.date(2018, 6, 21), 39.66)
    el_dec, az_dec = sun_position(dt.date(2018, 12, 21), 39.66)
    assert 60 < el_jun < 70 and 20 < el_dec < 26  # 10:30 local solar time at 39.7 N
    assert 90 < az_jun < 180 and 90 < az_dec < 180


@pytest.mark.parametrize(("utc_hour", "east"), [(1, True), (6, False)])
def test_time_of_day_from_a_utc_datetime(utc_hour: int, east: bool) -> None:
    # at 124.7 E local solar time is UTC + 8.3 h
    when = dt.datetime(2018, 8, 11, utc_hour, 30, tzinfo=dt.timezone.utc)
    _, az = sun_position(when, 39.66, 124.7)
    assert (az < 180) is east


def test_midnight_datetime_means_a_date_without_time() -> None:
    d = dt.date(2019, 3, 1)
    assert sun_position(dt.datetime(2019, 3, 1), 39.66, 124.7) == sun_position(d, 39.66)
