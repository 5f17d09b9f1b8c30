import datetime as dt

import numpy as np

from sitewatch.models import Event, GrowthStep
from sitewatch.timeline.fusion import fuse_events, renumber

D = dt.date


def _ev(eid: str, first: dt.date, offset: tuple[int, int], size: int = 4, kind: str = "appeared",
        p: float = 1e-4, score: float = 0.8, before: dt.date | None = None) -> Event:
    return Event(
        eid, first, before, "pad", kind, size * size * 9.0, score, p, True, first, 1.0,  # type: ignore[arg-type]
        (GrowthStep(first, size * size * 9.0),), np.ones((size, size), bool), offset, (50, 50),
    )  # fmt: skip


def test_overlapping_events_close_in_time_fuse_into_one_surer_event() -> None:
    opt = _ev("e0001", D(2019, 3, 4), (10, 10), before=D(2019, 2, 20))
    sar = _ev("e0001", D(2019, 2, 28), (11, 11), p=1e-3, score=0.7, before=D(2019, 2, 16))
    (f,) = fuse_events([opt], [sar], 9.0)
    assert f.sensors == ("optical", "sar")
    assert f.first_seen == D(2019, 2, 28)
    assert f.last_unchanged == D(2019, 2, 20)  # the tighter bracket
    assert f.score > max(opt.score, sar.score)
    assert f.p_value < 1e-3
    assert f.pixel_count == 16 + 16 - 9
    assert f.kind == "appeared"
    assert f.confirmed and f.confirmed_on == D(2019, 2, 28)  # the earlier of the two


def test_a_second_sensor_confirms_a_pending_change() -> None:
    import dataclasses

    opt = dataclasses.replace(
        _ev("e0001", D(2019, 3, 4), (10, 10)), confirmed=False, confirmed_on=None
    )
    sar = dataclasses.replace(
        _ev("e0001", D(2019, 3, 1), (10, 10)), confirmed=False, confirmed_on=None
    )
    (f,) = fuse_events([opt], [sar], 9.0)
    assert f.confirmed and f.confirmed_on == D(2019, 3, 4)


def test_far_apart_or_distant_events_stay_apart_and_are_renumbered() -> None:
    opt = _ev("e0001", D(2019, 3, 4), (10, 10))
    late = _ev("e0001", D(2019, 6, 1), (10, 10))
    away = _ev("e0002", D(2019, 1, 1), (40, 40))
    out = fuse_events([opt], [late, away], 9.0)
    assert [e.event_id for e in out] == ["e0001", "e0002", "e0003"]
    assert [e.sensors for e in out] == [("sar",), ("optical",), ("sar",)]
    assert out[0].first_seen == D(2019, 1, 1)


def test_renumber_orders_by_date_then_position() -> None:
    a = _ev("x", D(2019, 3, 1), (30, 0))
    b = _ev("y", D(2019, 3, 1), (0, 30))
    assert [e.offset for e in renumber([a, b])] == [(0, 30), (30, 0)]
