"""Per-pixel reference state: the last clear, aligned observation of every pixel.

Each new acquisition is tested against the reference, not against the previous
scene (which may be cloudy at that pixel).  After the test the reference takes
the new values wherever the scene is clear, except where the caller *holds* it:
pixels of a change that awaits confirmation keep their pre-change state, so the
next clear observation can tell a persistent change (still different from the
pre-change state) from a transient one (back to it).  Once a change is
confirmed the hold is released and the changed state becomes the new normal.

The look the reference held before its last one is kept too (:attr:`previous`):
a single degraded look (haze or a cloud edge under the mask's threshold) that
became the reference makes every later clear look differ from it, and only the
look before it can tell.  A released hold starts the history afresh, so a
confirmed change is never compared with what it replaced.

The change test is injected: any callable ``(reference, scene, valid) -> p``
with ``(bands, h, w)`` arrays and an ``(h, w)`` bool mask, returning ``(h, w)``
p-values under "no change".  Pure numpy, no file I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np

from ..change.regions import regions_where
from ..errors import InputError

ChangeTest: TypeAlias = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

#: a candidate region whose scene is this much closer to the previous look than to the
#: reference blames the reference (:meth:`ReferenceState.odd_reference`)
ODD_REFERENCE_RATIO = 0.5
#: share of a region's pixels that must blame the reference for the region to be dropped
ODD_REFERENCE_SHARE = 0.5

__all__ = ["ChangeTest", "ReferenceState", "as_date", "check_dates", "check_zones"]


def as_date(value: dt.date, name: str = "date") -> dt.date:
    """A calendar date from a ``date`` or ``datetime`` (whose day is taken as is)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise InputError(f"{name}: {value!r} is not a date; give a datetime.date")


def check_dates(dates: Iterable[dt.date], name: str = "dates") -> tuple[dt.date, ...]:
    """Dates as a tuple of ``datetime.date``, checked to be strictly increasing."""
    if not isinstance(dates, Iterable):
        raise InputError(f"{name}: {dates!r} is not a sequence of dates")
    out = tuple(as_date(d, name) for d in dates)
    for i in range(1, len(out)):
        if out[i] <= out[i - 1]:
            raise InputError(
                f"{name}: {out[i].isoformat()} (position {i}) does not follow "
                f"{out[i - 1].isoformat()}; give strictly increasing dates (sort the "
                "acquisitions and merge those of the same day)"
            )
    return out


def check_zones(
    labels: np.ndarray | None, names: Sequence[str], shape: tuple[int, int]
) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """Zone labels as int64 and names as a tuple, checked against each other and the grid."""
    names = tuple(names)
    if len(set(names)) != len(names) or any(not n or n == "_site" for n in names):
        raise InputError(f"zone_names: {names!r}; give unique, non-empty names other than '_site'")
    if labels is None:
        if names:
            raise InputError("zone_labels: None while zone_names are given; give the label raster")
        return None, names
    lab = np.asarray(labels)
    if lab.shape != shape:
        raise InputError(
            f"zone_labels: shape {lab.shape} does not match the grid {shape}; give (h, w)"
        )
    if not np.issubdtype(lab.dtype, np.integer):
        raise InputError(f"zone_labels: dtype {lab.dtype}; give an integer label raster")
    if lab.size and (lab.min() < 0 or lab.max() > len(names)):
        raise InputError(
            f"zone_labels: values {int(lab.min())}..{int(lab.max())} but {len(names)} zone "
            f"names; use 0 outside zones and 1..{len(names)} for zone_names[0..]"
        )
    return lab.astype(np.int64), names


def _check_mask(mask: np.ndarray, shape: tuple[int, int], name: str) -> np.ndarray:
    m = np.asarray(mask)
    if m.shape != shape:
        raise InputError(f"{name}: shape {m.shape} does not match the grid {shape}; give (h, w)")
    return m.astype(bool, copy=False)


@dataclass(frozen=True, eq=False)
class ReferenceState:
    """Last clear state of every pixel and which acquisition it comes from.

    Attributes
    ----------
    values
        ``(bands, h, w)`` float32; NaN where the pixel was never observed.
    index
        ``(h, w)`` int32: position (in ``dates``) of the acquisition ``values``
        comes from; -1 where never observed.
    dates
        Dates of every acquisition fed to :meth:`update` so far, in order.
    previous
        ``(bands, h, w)`` float32: the look ``values`` replaced (NaN where there
        was none, and where a released hold started the history afresh).  None
        is all NaN.
    held
        ``(h, w)`` bool: the ``hold`` of the last :meth:`update`; None is none.
    """

    values: np.ndarray
    index: np.ndarray
    dates: tuple[dt.date, ...] = ()
    previous: np.ndarray | None = None
    held: np.ndarray | None = None

    @classmethod
    def empty(cls, n_bands: int, shape: tuple[int, int]) -> ReferenceState:
        """A reference that has seen nothing yet."""
        if n_bands < 1 or len(shape) != 2 or min(shape) < 1:
            raise InputError(
                f"n_bands, shape: ({n_bands}, {shape}) cannot make a reference; give at least "
                "one band and a non-empty (h, w)"
            )
        values = np.full((n_bands, *shape), np.nan, dtype=np.float32)
        return cls(values, np.full(shape, -1, dtype=np.int32))

    @property
    def shape(self) -> tuple[int, int]:
        """(h, w) of the grid."""
        return int(self.index.shape[0]), int(self.index.shape[1])

    @property
    def observed(self) -> np.ndarray:
        """``(h, w)`` bool: pixels that have a reference."""
        return self.index >= 0

    def reference_date(self, row: int, col: int) -> dt.date | None:
        """Date of the observation the reference of one pixel comes from."""
        i = int(self.index[row, col])
        return self.dates[i] if i >= 0 else None

    def _check_scene(self, scene: np.ndarray, clear: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = np.asarray(scene)
        if s.shape != self.values.shape:
            raise InputError(
                f"scene: shape {s.shape} does not match the reference {self.values.shape}; "
                "give (bands, h, w) on the same grid with the same bands"
            )
        c = _check_mask(clear, self.shape, "clear")
        return s.astype(np.float32, copy=False), c & np.all(np.isfinite(s), axis=0)

    def judgeable(self, scene: np.ndarray, clear: np.ndarray) -> np.ndarray:
        """``(h, w)`` bool: clear, finite in ``scene`` and with a reference."""
        _, c = self._check_scene(scene, clear)
        return c & self.observed

    def compare(self, scene: np.ndarray, clear: np.ndarray, change_test: ChangeTest) -> np.ndarray:
        """Test ``scene`` against the reference.

        Returns
        -------
        numpy.ndarray
            ``(h, w)`` float p-values under "no change"; NaN where not judged
            (not clear, not finite, or no reference yet).
        """
        s, c = self._check_scene(scene, clear)
        valid = c & self.observed
        p = np.full(self.shape, np.nan)
        if not valid.any():
            return p
        out = np.asarray(change_test(self.values, s, valid), dtype=float)
        if out.shape != self.shape:
            raise InputError(
                f"change_test: returned shape {out.shape}, expected {self.shape}; the test "
                "must return one p-value per pixel"
            )
        p[valid] = np.clip(out[valid], 0.0, 1.0)
        return p

    def signed_change(self, scene: np.ndarray) -> np.ndarray:
        """Mean over bands of ``scene - reference``: positive is brighter (NaN unobserved)."""
        s, _ = self._check_scene(scene, np.ones(self.shape, bool))
        with np.errstate(invalid="ignore"):
            return np.asarray(np.mean(s - self.values, axis=0), dtype=np.float32)

    def odd_reference(
        self, scene: np.ndarray, regions: np.ndarray, ratio: float = ODD_REFERENCE_RATIO
    ) -> np.ndarray:
        """Pixels of the 8-connected ``regions`` where ``scene`` is much closer to the
        :attr:`previous` look than to the reference.

        The reference is then the odd one out (a degraded look), not the scene.  A
        pixel blames its reference when its distance (Euclidean over bands) from the
        scene to the previous look is under ``ratio`` times the distance to the
        reference; a region is returned when at least half of it has a previous look
        and :data:`ODD_REFERENCE_SHARE` of those pixels blame their reference.  A
        real change differs from both looks alike, and one inside a region whose
        reference was partly odd (a field greening on the reference's date) keeps it.
        """
        s, _ = self._check_scene(scene, np.ones(self.shape, bool))
        r = _check_mask(regions, self.shape, "regions")
        if self.previous is None or not r.any():
            return np.zeros(self.shape, bool)
        seen = r & np.all(np.isfinite(self.previous), axis=0)
        to_ref = np.sum((s - self.values) ** 2, axis=0)
        with np.errstate(invalid="ignore"):
            blames = seen & (np.sum((s - self.previous) ** 2, axis=0) < ratio**2 * to_ref)
        return regions_where(r, seen, r, 0.5) & regions_where(r, blames, seen, ODD_REFERENCE_SHARE)

    def update(
        self,
        scene: np.ndarray,
        clear: np.ndarray,
        date: dt.date,
        hold: np.ndarray | None = None,
    ) -> ReferenceState:
        """The reference after acquisition ``date``.

        Parameters
        ----------
        scene, clear
            ``(bands, h, w)`` values and ``(h, w)`` clear mask of the acquisition.
        date
            Must follow every date already seen.
        hold
            ``(h, w)`` bool: pixels whose reference is kept even where clear
            (changes awaiting confirmation).  None holds nothing.

        Returns
        -------
        ReferenceState
            A new state; this one is left unchanged.
        """
        d = as_date(date)
        if self.dates and d <= self.dates[-1]:
            raise InputError(
                f"date: {d.isoformat()} does not follow the last reference date "
                f"{self.dates[-1].isoformat()}; feed acquisitions in date order"
            )
        s, take = self._check_scene(scene, clear)
        held = np.zeros(self.shape, bool) if hold is None else _check_mask(hold, self.shape, "hold")
        take = take & ~held
        values = np.where(take[None], s, self.values).astype(np.float32, copy=False)
        index = np.where(take, np.int32(len(self.dates)), self.index).astype(np.int32)
        prior = self.previous if self.previous is not None else np.full_like(self.values, np.nan)
        previous = np.where(take[None], self.values, prior).astype(np.float32, copy=False)
        if self.held is not None:
            previous[:, take & self.held] = np.nan  # a released hold starts afresh
        return ReferenceState(values, index, (*self.dates, d), previous, held)
