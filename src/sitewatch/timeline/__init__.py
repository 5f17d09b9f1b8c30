"""Change through time: per-pixel references, event tracking, zone timelines, change points.

Pure numpy: arrays and dates in, dataclasses out; no file I/O.
"""

from .changepoints import CusumResult, cusum, cusum_arl, cusum_threshold
from .doubt import FirstLookDoubt
from .events import EventTracker, TrackedSeries, track_series
from .reference import ChangeTest, ReferenceState
from .zones import SITE_ZONE, robust_z, zone_timeline

__all__ = [
    "SITE_ZONE",
    "ChangeTest",
    "CusumResult",
    "EventTracker",
    "FirstLookDoubt",
    "ReferenceState",
    "TrackedSeries",
    "cusum",
    "cusum_arl",
    "cusum_threshold",
    "robust_z",
    "track_series",
    "zone_timeline",
]
