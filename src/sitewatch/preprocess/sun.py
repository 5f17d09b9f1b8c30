"""Where the sun stands for an acquisition: elevation and azimuth from date, time and place.

A low-precision solar position (declination from the day of the year, hour
angle from local solar time), good to a degree or two, which is all that
shadow geometry at tens of metres needs.  Acquisitions whose time is not
known (file names that carry only the date) are taken at 10:30 local solar
time, the overpass of Sentinel-2 and Landsat.
"""

from __future__ import annotations

import datetime as dt
import math

__all__ = ["DEFAULT_SOLAR_HOUR", "sun_position"]

DEFAULT_SOLAR_HOUR = 10.5


def sun_position(
    when: dt.date | dt.datetime, lat: float, lon: float | None = None
) -> tuple[float, float]:
    """(elevation, azimuth) in degrees; azimuth clockwise from north.

    Parameters
    ----------
    when
        A date (taken at 10:30 local solar time), a naive or UTC datetime at
        exactly midnight (a date without its time: the same), or a UTC datetime
        (local solar time from ``lon``).
    lat, lon
        Degrees; ``lon`` is needed only for a datetime with a time of day.
    """
    hour = DEFAULT_SOLAR_HOUR
    if isinstance(when, dt.datetime):
        utc = when.astimezone(dt.timezone.utc) if when.tzinfo else when
        if (utc.hour, utc.minute, utc.second) != (0, 0, 0) and lon is not None:
            hour = (utc.hour + utc.minute / 60 + utc.second / 3600 + lon / 15.0) % 24.0
    doy = when.timetuple().tm_yday
    decl = math.radians(-23.44) * math.cos(2 * math.pi * (doy + 10) / 365.0)
    phi = math.radians(lat)
    h = math.radians(15.0 * (hour - 12.0))
    sin_el = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(h)
    el = math.asin(max(-1.0, min(1.0, sin_el)))
    cos_az = (math.sin(decl) - math.sin(el) * math.sin(phi)) / (math.cos(el) * math.cos(phi))
    az = math.degrees(math.acos(max(-1.0, min(1.0, cos_az))))  # from north, east side
    return math.degrees(el), (az if h <= 0 else 360.0 - az)
