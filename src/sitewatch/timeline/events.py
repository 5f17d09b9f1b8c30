"""Change events through time: candidates, confirmation, kind, growth.

Rules (pure numpy; one :class:`EventTracker` fed one acquisition at a time):

* **Candidates.**  At each date, the change decision (``p < alpha`` against the
  per-pixel reference, see :mod:`.reference`) on judged pixels that are not
  awaiting confirmation is cleaned with :func:`sitewatch.change.clean.clean_decision`
  (``min_area_px``) and split into 8-connected components: the candidates.
  Their pixels are the date's *new change* (what the zone timelines count).
* **Rims.**  A candidate with at least ``rim_share`` (1/4) of its pixels within
  ``rim_px`` of pixels that were clear before but are not now (cloud, cloud
  shadow, a coverage edge) is deferred: it is treated as not judged at this
  date and its pixels keep their reference (:attr:`EventTracker.hold`).  Masks
  miss the faint rims of clouds and shadows, and what changes there is mostly
  the rim; a real change is found at its next clear look instead.  When most
  of a candidate's pixels were deferred at an earlier date, with the same
  direction of change, and have not been judged since, its ``first_seen`` is
  that date: the change was already there, beside the cloud.
* **Confirmation.**  A candidate's pixels keep their pre-change reference (the
  tracker's :attr:`EventTracker.hold`) until it is settled.  Each pixel votes
  once, at its next judged acquisition: still changed (the decision against the
  pre-change state) or reverted.  When at least ``confirm_fraction`` (0.5) of
  its pixels have voted, the candidate is settled: *persistent* if at least
  half of the votes say still changed, *transient* otherwise.  Votes weigh by
  how strongly each pixel was detected (``-log10 p``, from 1 to 10): window
  statistics spread a change's significance a pixel or two past its edge, and
  those barely detected pixels revert at the next look while the change
  itself stays; counted equally, they can outvote it.  Pixels of a persistent
  candidate that voted "reverted" leave its footprint.
* **Unconfirmed.**  A candidate still unsettled when the series ends is
  emitted (``emit_unconfirmed=True``, the default): the latest acquisitions are
  what a monitor most needs to report.  It carries ``confirmed=False``, its
  kind from the direction of change, and half the score weight.
* **Kind.**  From the signed change measure passed in (``delta``, positive =
  brighter / new structure, e.g. :meth:`.ReferenceState.signed_change`) over the
  footprint at detection: each pixel votes + (``delta > kind_tolerance``),
  - (``delta < -kind_tolerance``) or neither; ``appeared`` when at least
  ``kind_majority`` (2/3) of the pixels vote +, ``disappeared`` when at least
  2/3 vote -, ``modified`` otherwise.  Reverted changes are ``transient``.
* **Growth.**  A candidate that overlaps or touches (within ``join_buffer_px``,
  8-connected) the live footprint of an event (pending or persistent parts)
  that was still growing (detected or grown at the candidate's last clear look
  before this date, its ``last_unchanged``) and whose change is of the same kind
  (see **Kind**), with at least ``join_edge_share`` (1/5) of its boundary along
  that footprint (a new building touching the event at a corner is its own
  event), joins it, unless at least half of the candidate lies inside that footprint
  already: that is a new change of the same place (e.g. a demolition) and
  starts a new event.  A candidate touching several events merges them.
  ``growth`` lists, for every date at which the event was detected or grew,
  the cumulative area.  Parts of an event that revert form one ``transient``
  event of their own.
* **Dates.**  ``first_seen`` is the date of the earliest part.
  ``last_unchanged`` is, over that part's pixels, the latest date at or after
  which at least half of them had a clear acquisition before ``first_seen``
  (the median of the per-pixel last clear dates); None when that is never.
* **Zone.**  The label covering most of the footprint; None when most of it is
  outside every zone (label 0).
* **Site.**  Given the site's ``(h, w)`` mask, an event with less than half of
  its footprint inside it is not reported: the grid's margin around the site is
  read for alignment and for the smooth background, and a change there, often
  right at the edge of the imagery where that background is extrapolated, is
  not the site's.  Candidates there are still tracked, so their pixels keep
  their reference like any other.
* **p-value and score.**  A part's detection p is the median pixel p-value at
  detection.  A persistent part combines it with the median p at confirmation
  (Fisher, two dates: ``p1 p2 (1 - ln(p1 p2))``); both dates are tested against
  the same pre-change reference, so that combination is somewhat optimistic.
  The event's ``p_value`` is the smallest over its parts; with decisions only
  (no p-values) ``alpha`` stands in as an upper bound.  ``score = (1 - p_value)
  * w`` with ``w`` the area-weighted share of re-observed pixels that agreed
  with the verdict (0.5 for unconfirmed parts), so 0 <= score <= 1.

The loop, as :func:`track_series` runs it::

    ref = ReferenceState.empty(n_bands, shape)
    tracker = EventTracker(shape, pixel_area_m2=..., alpha=..., min_area_px=...)
    for date, scene, clear in acquisitions:
        p = ref.compare(scene, clear, change_test)
        new_change = tracker.update(date, clear, ref.signed_change(scene), p_value=p)
        ref = ref.update(scene, clear, date, hold=tracker.hold)
    events = tracker.finish()
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence, Sized
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from ..change.clean import clean_decision
from ..errors import InputError
from ..models import Event, EventKind, GrowthStep
from .reference import ChangeTest, ReferenceState, as_date, check_dates, check_zones

__all__ = ["EventTracker", "TrackedSeries", "track_series"]

_PENDING, _PERSISTENT, _TRANSIENT = 0, 1, 2
_EIGHT = np.ones((3, 3), dtype=bool)
#: share of an event's footprint that must lie inside the site for it to be reported
_SITE_SHARE = 0.5
#: range of a vote's weight, -log10 of the pixel's p-value at detection
_VOTE_WEIGHT = (1.0, 10.0)


@dataclass
class _Part:
    """One candidate: its pixels and what the later acquisitions said about them."""

    track: int
    t: int
    pixels: np.ndarray  # sorted flat indices on the grid
    p_det: float
    last_unchanged: int
    n_pos: int
    n_neg: int
    n_delta: int
    delta_sum: float
    votes: np.ndarray  # int8 per pixel: -1 not yet, 0 reverted, 1 still changed
    weight: np.ndarray  # float per pixel: how much its vote counts
    conf_p: list[np.ndarray] = field(default_factory=list)
    status: int = _PENDING
    resolved_t: int = -1
    agree: float = 0.5

    def footprint(self) -> np.ndarray:
        if self.status == _PERSISTENT:
            return self.pixels[self.votes != 0]
        return self.pixels

    def p_value(self) -> float:
        if self.status != _PERSISTENT or not self.conf_p:
            return self.p_det
        conf = np.concatenate(self.conf_p)
        conf = conf[np.isfinite(conf)]
        if conf.size == 0 or not math.isfinite(self.p_det):
            return self.p_det
        return fisher2(self.p_det, float(np.median(conf)))


def _shared_edge(edge: np.ndarray, other: np.ndarray, struct: np.ndarray) -> float:
    """Share of the boundary pixels ``edge`` within ``struct`` of the pixels ``other``."""
    n = int(edge.sum())
    return float((edge & ndi.binary_dilation(other, structure=struct)).sum()) / n if n else 0.0


def fisher2(p1: float, p2: float) -> float:
    """Fisher's combination of two independent p-values (chi-square, 4 dof, closed form)."""
    prod = max(p1 * p2, 1e-300)
    return float(min(1.0, prod * (1.0 - math.log(prod))))


class EventTracker:
    """Follow change candidates across acquisitions and turn them into events.

    Parameters
    ----------
    shape
        (h, w) of the site grid.
    pixel_area_m2
        Ground area of one pixel.
    zone_labels, zone_names
        ``(h, w)`` int raster: 0 outside every zone, ``i`` inside ``zone_names[i - 1]``.
        None: no zones.
    site_mask
        ``(h, w)`` bool: the site; events mostly outside it are not reported (see
        the module notes).  None: the whole grid.
    alpha
        Per-pixel false-alarm rate of the decision ``p < alpha``.
    min_area_px
        Smallest candidate (8-connected pixels).
    join_buffer_px
        A candidate within this many pixels of an event joins it (1: touching).
    confirm_fraction
        Share of a candidate's pixels that must be re-observed to settle it.
    kind_tolerance, kind_majority
        See the module notes on ``kind``.
    emit_unconfirmed
        Whether candidates unsettled at the end become (unconfirmed) events.
    rim_px, rim_share
        See the module notes on rims; ``rim_px=0`` turns the deferral off.
    join_edge_share
        Share of a candidate's boundary pixels that must lie along an event (within
        ``join_buffer_px``) for the candidate to be its growth.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        *,
        pixel_area_m2: float,
        zone_labels: np.ndarray | None = None,
        zone_names: Sequence[str] = (),
        site_mask: np.ndarray | None = None,
        alpha: float = 0.01,
        min_area_px: int = 1,
        join_buffer_px: int = 1,
        confirm_fraction: float = 0.5,
        kind_tolerance: float = 0.0,
        kind_majority: float = 2.0 / 3.0,
        emit_unconfirmed: bool = True,
        rim_px: int = 3,
        rim_share: float = 0.25,
        join_edge_share: float = 0.2,
    ) -> None:
        if len(shape) != 2 or min(shape) < 1:
            raise InputError(f"shape: {shape!r} is not a grid shape; give (h, w) with h, w >= 1")
        if not (math.isfinite(pixel_area_m2) and pixel_area_m2 > 0):
            raise InputError(f"pixel_area_m2: {pixel_area_m2} must be a positive area in m2")
        if not 0.0 < alpha < 1.0:
            raise InputError(f"alpha: {alpha} is not a false-alarm rate; give 0 < alpha < 1")
        if min_area_px < 1 or join_buffer_px < 0:
            raise InputError(
                f"min_area_px, join_buffer_px: ({min_area_px}, {join_buffer_px}); give "
                "min_area_px >= 1 and join_buffer_px >= 0"
            )
        if not 0.0 <= join_edge_share <= 1.0:
            raise InputError(f"join_edge_share: {join_edge_share}; give a share in [0, 1]")
        if rim_px < 0 or not 0.0 < rim_share <= 1.0:
            raise InputError(
                f"rim_px, rim_share: ({rim_px}, {rim_share}); give rim_px >= 0 and a share "
                "in (0, 1]"
            )
        if not 0.0 < confirm_fraction <= 1.0:
            raise InputError(f"confirm_fraction: {confirm_fraction}; give a share in (0, 1]")
        if not 0.5 < kind_majority <= 1.0 or kind_tolerance < 0:
            raise InputError(
                f"kind_majority, kind_tolerance: ({kind_majority}, {kind_tolerance}); give a "
                "majority in (0.5, 1] and a tolerance >= 0"
            )
        self.shape = (int(shape[0]), int(shape[1]))
        self.pixel_area_m2 = float(pixel_area_m2)
        self.labels, self.zone_names = check_zones(zone_labels, zone_names, self.shape)
        self.site = (
            None
            if site_mask is None
            else _grid_array(site_mask, self.shape, "site_mask").astype(bool)
        )
        self.alpha = float(alpha)
        self.min_area_px = int(min_area_px)
        self.join_buffer_px = int(join_buffer_px)
        self.confirm_fraction = float(confirm_fraction)
        self.kind_tolerance = float(kind_tolerance)
        self.kind_majority = float(kind_majority)
        self.emit_unconfirmed = bool(emit_unconfirmed)
        self.join_edge_share = float(join_edge_share)
        self.rim_px = int(rim_px)
        self.rim_share = float(rim_share)

        self._dates: list[dt.date] = []
        self._parts: list[_Part] = []
        self._tracks: dict[int, list[int]] = {}
        self._open: set[int] = set()  # parts still pending
        self._next_track = 0
        self._pending = np.full(self.shape, -1, dtype=np.int64)  # part awaiting this pixel
        self._live = np.full(self.shape, -1, dtype=np.int64)  # track owning this pixel
        self._last_clear = np.full(self.shape, -1, dtype=np.int32)
        # date and direction of a deferred rim change not yet looked at again
        self._deferred_t = np.full(self.shape, -1, dtype=np.int32)
        self._deferred_sign = np.zeros(self.shape, dtype=np.int8)
        self._awaiting = np.zeros(self.shape, dtype=bool)
        self._hold = np.zeros(self.shape, dtype=bool)

    @property
    def dates(self) -> tuple[dt.date, ...]:
        return tuple(self._dates)

    @property
    def hold(self) -> np.ndarray:
        """``(h, w)`` bool: pixels whose pre-change reference must be kept (unsettled change)."""
        return self._hold.copy()

    @property
    def awaiting(self) -> np.ndarray:
        """``(h, w)`` bool: pixels of candidates awaiting confirmation (part of :attr:`hold`)."""
        return self._awaiting.copy()

    def update(
        self,
        date: dt.date,
        clear: np.ndarray,
        delta: np.ndarray,
        *,
        p_value: np.ndarray | None = None,
        decision: np.ndarray | None = None,
    ) -> np.ndarray:
        """Take one acquisition's test result.

        Parameters
        ----------
        date
            Must follow the previous acquisition's date.
        clear
            ``(h, w)`` bool: valid (clear) pixels of the acquisition.
        delta
            ``(h, w)`` signed change against the reference (positive: brighter / new).
        p_value
            ``(h, w)`` p-values against the reference, NaN where not judged.
        decision
            ``(h, w)`` bool change decision; default ``p_value < alpha``.  At least
            one of ``p_value`` and ``decision`` is needed.

        Returns
        -------
        numpy.ndarray
            ``(h, w)`` bool: the new change at this date (pixels of its candidates).
        """
        d = as_date(date)
        if self._dates and d <= self._dates[-1]:
            raise InputError(
                f"date: {d.isoformat()} does not follow {self._dates[-1].isoformat()}; feed "
                "acquisitions in strictly increasing date order"
            )
        clr = _grid_array(clear, self.shape, "clear").astype(bool)
        dlt = _grid_array(delta, self.shape, "delta").astype(float)
        if p_value is None and decision is None:
            raise InputError("p_value, decision: both are None; give at least one of them")
        p = None if p_value is None else _grid_array(p_value, self.shape, "p_value").astype(float)
        judged = clr if p is None else clr & np.isfinite(p)
        if decision is not None:
            dec = _grid_array(decision, self.shape, "decision").astype(bool) & judged
        else:
            assert p is not None
            with np.errstate(invalid="ignore"):
                dec = judged & (p < self.alpha)
        t = len(self._dates)
        self._dates.append(d)

        observed = self._observe(t, judged, dec, p)
        pool = dec & ~observed & (self._pending < 0)
        new = clean_decision(pool, judged, min_area_px=self.min_area_px)
        deferred = self._rims(new, clr)
        new &= ~deferred
        if new.any():
            self._add_candidates(t, new, dlt, p)
        seen = clr & ~deferred  # a deferred rim was not judged now
        self._last_clear[seen] = t
        self._deferred_t[seen] = -1
        mark = deferred & (self._deferred_t < 0)
        self._deferred_t[mark] = t
        self._deferred_sign[mark] = np.sign(np.nan_to_num(dlt[mark])).astype(np.int8)
        self._awaiting = self._pending_mask()
        self._hold = self._awaiting | deferred
        return new

    def _rims(self, new: np.ndarray, clear: np.ndarray) -> np.ndarray:
        """Candidates of ``new`` lying mostly along pixels masked now but seen before."""
        lost = ~clear & (self._last_clear >= 0)
        if self.rim_px == 0 or not new.any() or not lost.any():
            return np.zeros(self.shape, dtype=bool)
        near = ndi.binary_dilation(lost, structure=_EIGHT, iterations=self.rim_px)
        labels, n = ndi.label(new, structure=_EIGHT)
        size = np.bincount(labels.ravel(), minlength=n + 1)
        beside = np.bincount(labels.ravel(), weights=near.ravel(), minlength=n + 1)
        rim = beside >= self.rim_share * np.maximum(size, 1)
        rim[0] = False
        return np.asarray(rim[labels])

    def _pending_mask(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=bool)
        flat = out.ravel()
        for pid in self._open:
            flat[self._parts[pid].pixels] = True
        return out

    def _observe(
        self, t: int, judged: np.ndarray, dec: np.ndarray, p: np.ndarray | None
    ) -> np.ndarray:
        """Record votes of awaited pixels seen at ``t``; settle candidates; return those pixels."""
        observed = judged & (self._pending >= 0)
        if not observed.any():
            return observed
        flat = np.flatnonzero(observed)
        pids = self._pending.ravel()[flat]
        dec_f = dec.ravel()[flat]
        p_f = None if p is None else p.ravel()[flat]
        touched: list[int] = []
        for pid in np.unique(pids).tolist():
            part = self._parts[pid]
            sel = pids == pid
            if part.status != _PENDING:
                continue  # settled earlier; this pixel only catches up with its reference
            pos = np.searchsorted(part.pixels, flat[sel])
            fresh = part.votes[pos] < 0
            part.votes[pos[fresh]] = dec_f[sel][fresh].astype(np.int8)
            if p_f is not None:
                part.conf_p.append(p_f[sel][fresh])
            touched.append(pid)
        pending_flat = self._pending.ravel()
        for pid in touched:
            part = self._parts[pid]
            voted = part.votes >= 0
            if voted.mean() < self.confirm_fraction:
                continue
            wv = part.weight[voted]
            still = float(wv[part.votes[voted] == 1].sum() / wv.sum())
            part.resolved_t = t
            if still >= 0.5:
                # pixels seen now take the new state below; the others when next seen
                part.status, part.agree = _PERSISTENT, still
            else:
                part.status, part.agree = _TRANSIENT, 1.0 - still
                pending_flat[part.pixels] = -1
                self._unpaint(part)
            self._open.discard(pid)
        # awaited pixels seen now whose part is settled (now or before) are done
        status = np.array([q.status for q in self._parts], dtype=np.int8)
        pending_flat[flat[status[pids] != _PENDING]] = -1
        return observed

    def _unpaint(self, part: _Part) -> None:
        live = self._live.ravel()
        pix = part.pixels
        live[pix[live[pix] == part.track]] = -1
        for pid in self._tracks[part.track]:
            other = self._parts[pid]
            if other.status != _TRANSIENT:
                fp = other.footprint()
                live[fp[live[fp] == -1]] = part.track

    def _add_candidates(
        self, t: int, new: np.ndarray, delta: np.ndarray, p: np.ndarray | None
    ) -> None:
        labels, n = ndi.label(new, structure=_EIGHT)
        b = self.join_buffer_px
        struct = np.ones((2 * b + 1, 2 * b + 1), dtype=bool)
        h, w = self.shape
        for i, sl in enumerate(ndi.find_objects(labels), start=1):
            if sl is None:
                continue
            r0, r1 = max(sl[0].start - b, 0), min(sl[0].stop + b, h)
            c0, c1 = max(sl[1].start - b, 0), min(sl[1].stop + b, w)
            sub = labels[r0:r1, c0:c1] == i
            near = ndi.binary_dilation(sub, structure=struct) if b > 0 else sub
            live = self._live[r0:r1, c0:c1]
            rr, cc = np.nonzero(sub)
            pixels = np.sort((rr + r0) * w + (cc + c0)).astype(np.int64)
            # Growth is continuous: an event that did not grow at the candidate's last
            # clear look before now has stopped, and what starts beside it is new.
            last = np.sort(self._last_clear.ravel()[pixels])[pixels.size // 2]
            d = delta.ravel()[pixels]
            d = d[np.isfinite(d)]
            kind = self._kind_of(
                int((d > self.kind_tolerance).sum()), int((d < -self.kind_tolerance).sum()), d.size
            )
            # ... of one kind: a new roof beside a dismantled tower is another event ...
            # ... and extends it along a side: a new building that only touches the
            # event at a corner is a building of its own
            edge = sub & ~ndi.binary_erosion(sub, structure=_EIGHT)
            owners = [
                k for k in np.unique(live[near & (live >= 0)]).tolist()
                if max(self._parts[q].t for q in self._tracks[k]) >= last
                and self._kind([self._parts[q] for q in self._tracks[k]]) == kind
                and _shared_edge(edge, live == k, struct) >= self.join_edge_share
            ]  # fmt: skip
            inside = float((live[sub] >= 0).mean())
            track = owners[0] if owners and inside < 0.5 else self._new_track()
            if owners and inside < 0.5:
                for other in owners[1:]:
                    self._merge(track, other)
            self._new_part(t, track, pixels, delta, p)

    def _new_track(self) -> int:
        k = self._next_track
        self._next_track += 1
        self._tracks[k] = []
        return k

    def _merge(self, keep: int, other: int) -> None:
        for pid in self._tracks.pop(other):
            self._parts[pid].track = keep
            self._tracks[keep].append(pid)
        self._live[self._live == other] = keep

    def _new_part(
        self, t: int, track: int, pixels: np.ndarray, delta: np.ndarray, p: np.ndarray | None
    ) -> None:
        d = delta.ravel()[pixels]
        fin = np.isfinite(d)
        last = np.sort(self._last_clear.ravel()[pixels])
        if p is None:
            p_det, weight = self.alpha, np.ones(pixels.size)
        else:
            p_pix = p.ravel()[pixels]
            p_det = float(np.nanmedian(p_pix))
            with np.errstate(divide="ignore", invalid="ignore"):
                strength = -np.log10(p_pix)
            weight = np.clip(np.nan_to_num(strength, nan=_VOTE_WEIGHT[0]), *_VOTE_WEIGHT)
        part = _Part(
            track=track,
            t=self._deferred_from(t, pixels, d),
            pixels=pixels,
            p_det=p_det,
            last_unchanged=int(last[last.size // 2]),
            n_pos=int((d[fin] > self.kind_tolerance).sum()),
            n_neg=int((d[fin] < -self.kind_tolerance).sum()),
            n_delta=int(fin.sum()),
            delta_sum=float(d[fin].sum()),
            votes=np.full(pixels.size, -1, dtype=np.int8),
            weight=weight,
        )
        pid = len(self._parts)
        self._parts.append(part)
        self._open.add(pid)
        self._tracks[track].append(pid)
        self._pending.ravel()[pixels] = pid
        self._live.ravel()[pixels] = track

    def _deferred_from(self, t: int, pixels: np.ndarray, delta: np.ndarray) -> int:
        """``t``, or the date a rim deferral put off most of ``pixels`` with the same
        direction of change: the candidate was there already, beside the cloud."""
        since = self._deferred_t.ravel()[pixels]
        held = since >= 0
        if held.mean() < 0.5:
            return t
        same = np.sign(np.nan_to_num(delta[held])) == self._deferred_sign.ravel()[pixels][held]
        return int(np.sort(since[held])[held.sum() // 2]) if same.mean() >= 0.5 else t

    # -- output ------------------------------------------------------------------------

    def events(self) -> list[Event]:
        """Events as of the last acquisition: ``e0001``... by (first_seen, position)."""
        drafts: list[tuple[dt.date, int, str, dict[str, object]]] = []
        for pids in self._tracks.values():
            parts = [self._parts[i] for i in pids]
            kept = [q for q in parts if q.status == _PERSISTENT]
            kept += [q for q in parts if q.status == _PENDING and self.emit_unconfirmed]
            gone = [q for q in parts if q.status == _TRANSIENT]
            for group, transient in ((kept, False), (gone, True)):
                if group:
                    draft = self._draft(group, transient)
                    if draft is not None:
                        drafts.append(draft)
        drafts.sort(key=lambda x: (x[0], x[1], x[2]))
        return [
            Event(event_id=f"e{i:04d}", **fields)  # type: ignore[arg-type]
            for i, (_, _, _, fields) in enumerate(drafts, start=1)
        ]

    def finish(self) -> list[Event]:
        """The events at the end of the series (same as :meth:`events`)."""
        return self.events()

    def _draft(
        self, group: list[_Part], transient: bool
    ) -> tuple[dt.date, int, str, dict[str, object]] | None:
        group = sorted(group, key=lambda q: q.t)
        pix = np.unique(np.concatenate([q.footprint() for q in group]))
        if pix.size == 0:
            return None
        if self.site is not None and self.site.ravel()[pix].mean() < _SITE_SHARE:
            return None
        t0 = group[0].t
        first = [q for q in group if q.t == t0]
        last_i = max(q.last_unchanged for q in first)
        growth = []
        for t in sorted({q.t for q in group}):
            upto = np.unique(np.concatenate([q.footprint() for q in group if q.t <= t]))
            if upto.size:
                growth.append(GrowthStep(self._dates[t], upto.size * self.pixel_area_m2))
        p_val = min(q.p_value() for q in group)
        if not math.isfinite(p_val):
            p_val = self.alpha
        sizes = np.array([q.pixels.size for q in group], float)
        agree = np.array([q.agree for q in group])
        score = (1.0 - p_val) * float((sizes * agree).sum() / sizes.sum())
        n_delta = sum(q.n_delta for q in group)
        change = sum(q.delta_sum for q in group) / n_delta if n_delta else math.nan
        settled = [q.resolved_t for q in group if q.status != _PENDING]
        kind: EventKind = "transient" if transient else self._kind(group)
        h, w = self.shape
        rows, cols = pix // w, pix % w
        r0, c0 = int(rows.min()), int(cols.min())
        mask = np.zeros((int(rows.max()) - r0 + 1, int(cols.max()) - c0 + 1), dtype=bool)
        mask[rows - r0, cols - c0] = True
        fields: dict[str, object] = {
            "first_seen": self._dates[t0],
            "last_unchanged": self._dates[last_i] if last_i >= 0 else None,
            "zone": self._zone(pix),
            "kind": kind,
            "area_m2": pix.size * self.pixel_area_m2,
            "score": float(min(max(score, 0.0), 1.0)),
            "p_value": float(p_val),
            "confirmed": bool(settled),
            "confirmed_on": self._dates[min(settled)] if settled else None,
            "change": float(change),
            "growth": tuple(growth),
            "mask": mask,
            "offset": (r0, c0),
            "grid_shape": (h, w),
        }
        return self._dates[t0], int(pix[0]), kind, fields

    def _kind(self, group: list[_Part]) -> EventKind:
        return self._kind_of(
            sum(q.n_pos for q in group), sum(q.n_neg for q in group), sum(q.n_delta for q in group)
        )

    def _kind_of(self, n_pos: int, n_neg: int, n: int) -> EventKind:
        if n == 0:
            return "modified"
        if n_pos >= self.kind_majority * n:
            return "appeared"
        if n_neg >= self.kind_majority * n:
            return "disappeared"
        return "modified"

    def _zone(self, pix: np.ndarray) -> str | None:
        if self.labels is None:
            return None
        counts = np.bincount(self.labels.ravel()[pix], minlength=len(self.zone_names) + 1)
        best = int(np.argmax(counts))
        return self.zone_names[best - 1] if best > 0 else None


def _grid_array(a: object, shape: tuple[int, int], name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.shape != shape:
        raise InputError(f"{name}: shape {arr.shape} does not match the grid {shape}; give (h, w)")
    return arr


@dataclass(frozen=True, eq=False)
class TrackedSeries:
    """Result of :func:`track_series`.

    Attributes
    ----------
    events
        The events at the end of the series.
    changed
        Per date, the ``(h, w)`` bool new change (candidate pixels).
    judged
        Per date, the ``(h, w)`` bool pixels that could be tested (clear, with a reference).
    reference
        The reference state after the last acquisition.
    """

    events: list[Event]
    changed: tuple[np.ndarray, ...]
    judged: tuple[np.ndarray, ...]
    reference: ReferenceState


def track_series(
    dates: Sequence[dt.date],
    scenes: Iterable[np.ndarray],
    clear: Iterable[np.ndarray],
    change_test: ChangeTest,
    *,
    pixel_area_m2: float,
    zone_labels: np.ndarray | None = None,
    zone_names: Sequence[str] = (),
    alpha: float = 0.01,
    min_area_px: int = 1,
    **tracker_options: object,
) -> TrackedSeries:
    """Run the reference and the tracker over a series of aligned scenes.

    Parameters
    ----------
    dates
        Strictly increasing acquisition dates.
    scenes, clear
        Per date, ``(bands, h, w)`` values and ``(h, w)`` clear masks (iterables, so
        scenes can be loaded lazily).
    change_test
        ``(reference, scene, valid) -> p_value``, see :mod:`.reference`.
    pixel_area_m2, zone_labels, zone_names, alpha, min_area_px, tracker_options
        Passed to :class:`EventTracker`.
    """
    ds = check_dates(dates)
    for name, seq in (("scenes", scenes), ("clear", clear)):
        if isinstance(seq, Sized) and len(seq) != len(ds):
            raise InputError(f"{name}: {len(seq)} items for {len(ds)} dates; give one per date")
    ref: ReferenceState | None = None
    tracker: EventTracker | None = None
    changed: list[np.ndarray] = []
    judged: list[np.ndarray] = []
    n = 0
    for d, scene, clr in zip(ds, scenes, clear):
        s = np.asarray(scene)
        if s.ndim != 3:
            raise InputError(f"scenes: shape {s.shape} at {d.isoformat()}; give (bands, h, w)")
        if ref is None:
            ref = ReferenceState.empty(s.shape[0], (s.shape[1], s.shape[2]))
            tracker = EventTracker(
                ref.shape,
                pixel_area_m2=pixel_area_m2,
                zone_labels=zone_labels,
                zone_names=zone_names,
                alpha=alpha,
                min_area_px=min_area_px,
                **tracker_options,  # type: ignore[arg-type]
            )
        assert tracker is not None
        p = ref.compare(s, clr, change_test)
        delta = ref.signed_change(s)
        changed.append(tracker.update(d, clr, delta, p_value=p))
        judged.append(np.isfinite(p))
        ref = ref.update(s, clr, d, hold=tracker.hold)
        n += 1
    if n != len(ds) or ref is None or tracker is None:
        raise InputError(
            f"scenes, clear: {n} acquisitions for {len(ds)} dates; give one scene and one "
            "clear mask per date"
        )
    return TrackedSeries(tracker.finish(), tuple(changed), tuple(judged), ref)
