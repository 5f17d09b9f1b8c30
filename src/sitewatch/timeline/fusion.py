"""One event list from the optical and the radar series of a site.

An optical and a radar event are the same change when their footprints
overlap (the shared area is at least ``min_overlap`` of the smaller one) and
they were first seen within ``max_gap_days`` of each other.  The fused event
keeps the union of the footprints, the earlier ``first_seen`` with the latest
``last_unchanged`` before it (the tighter bracket), the optical kind when
there is one (the radar's brightening also comes from corner reflectors and
moisture), Fisher's combination of the two p-values (two independent
sensors), and a score that is higher than either: ``1 - (1 - s1)(1 - s2)``.
A persistent change is confirmed at the latest when the second sensor first
sees it: that is an independent re-observation, as the next look would be.
Events are then renumbered ``e0001``... by first_seen and position, as the
tracker numbers them.  Pure numpy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import numpy as np

from ..models import Event, GrowthStep
from .events import fisher2

__all__ = ["fuse_events", "renumber"]


def _overlap_px(a: Event, b: Event) -> int:
    (ra, ca), (rb, cb) = a.offset, b.offset
    r0, c0 = max(ra, rb), max(ca, cb)
    r1 = min(ra + a.mask.shape[0], rb + b.mask.shape[0])
    c1 = min(ca + a.mask.shape[1], cb + b.mask.shape[1])
    if r1 <= r0 or c1 <= c0:
        return 0
    wa = a.mask[r0 - ra : r1 - ra, c0 - ca : c1 - ca]
    wb = b.mask[r0 - rb : r1 - rb, c0 - cb : c1 - cb]
    return int((wa & wb).sum())


def _union(a: Event, b: Event) -> tuple[np.ndarray, tuple[int, int]]:
    (ra, ca), (rb, cb) = a.offset, b.offset
    r0, c0 = min(ra, rb), min(ca, cb)
    r1 = max(ra + a.mask.shape[0], rb + b.mask.shape[0])
    c1 = max(ca + a.mask.shape[1], cb + b.mask.shape[1])
    out = np.zeros((r1 - r0, c1 - c0), bool)
    for e, (r, c) in ((a, (ra, ca)), (b, (rb, cb))):
        out[r - r0 : r - r0 + e.mask.shape[0], c - c0 : c - c0 + e.mask.shape[1]] |= e.mask
    return out, (r0, c0)


def _fuse(opt: Event, sar: Event, pixel_area_m2: float) -> Event:
    first, other = (opt, sar) if opt.first_seen <= sar.first_seen else (sar, opt)
    before = [
        d for d in (first.last_unchanged, other.last_unchanged)
        if d is not None and d < first.first_seen
    ]  # fmt: skip
    mask, offset = _union(opt, sar)
    steps: dict[dt.date, float] = {}
    for step in (*opt.growth, *sar.growth):
        steps[step.date] = max(steps.get(step.date, 0.0), step.area_m2)
    confirmed_on = [d for d in (opt.confirmed_on, sar.confirmed_on) if d is not None]
    if opt.kind != "transient":
        # the second sensor's first look is an independent re-observation: it settles the
        # change as surely as the next look of the first sensor would
        confirmed_on.append(other.first_seen)
    return dataclasses.replace(
        opt,
        first_seen=first.first_seen,
        last_unchanged=max(before) if before else None,
        area_m2=float(mask.sum()) * pixel_area_m2,
        score=1.0 - (1.0 - opt.score) * (1.0 - sar.score),
        p_value=fisher2(opt.p_value, sar.p_value),
        confirmed=bool(confirmed_on),
        confirmed_on=min(confirmed_on) if confirmed_on else None,
        growth=tuple(GrowthStep(d, a) for d, a in sorted(steps.items())),
        mask=mask,
        offset=offset,
        sensors=("optical", "sar"),
    )


def fuse_events(
    optical: Sequence[Event],
    sar: Sequence[Event],
    pixel_area_m2: float,
    *,
    max_gap_days: int = 30,
    min_overlap: float = 0.3,
) -> list[Event]:
    """Merge radar events into the optical ones they match; renumber all.

    Each radar event joins at most one optical event (the one sharing most
    pixels among those within ``max_gap_days``), and each optical event takes
    at most one radar event; transient and persistent events only fuse with
    their own kind of persistence.
    """
    taken: set[int] = set()
    out: list[Event] = []
    radar = [dataclasses.replace(e, sensors=("sar",)) for e in sar]
    for o in optical:
        best, best_px = -1, 0
        for j, s in enumerate(radar):
            if j in taken or (o.kind == "transient") != (s.kind == "transient"):
                continue
            if abs((o.first_seen - s.first_seen).days) > max_gap_days:
                continue
            px = _overlap_px(o, s)
            if px >= min_overlap * min(o.pixel_count, s.pixel_count) and px > best_px:
                best, best_px = j, px
        if best >= 0:
            taken.add(best)
            out.append(_fuse(o, radar[best], pixel_area_m2))
        else:
            out.append(o)
    out += [s for j, s in enumerate(radar) if j not in taken]
    return renumber(out)


def renumber(events: Sequence[Event]) -> list[Event]:
    """Ids ``e0001``... by (first_seen, first footprint pixel in row-major order, kind)."""

    def key(e: Event) -> tuple[dt.date, int, str]:
        rows, cols = np.nonzero(e.mask)
        first = (int(rows[0]) + e.offset[0]) * e.grid_shape[1] + int(cols[0]) + e.offset[1]
        return e.first_seen, first, e.kind

    ordered = sorted(events, key=key)
    return [dataclasses.replace(e, event_id=f"e{i:04d}") for i, e in enumerate(ordered, 1)]
