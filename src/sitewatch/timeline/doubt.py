"""A pixel's first clear look beside a cloud is not trusted as its reference until a second look.

The masks miss the faint edge of a cloud's shadow or a thin veil next to a
cloud more often than anything else.  Where such a look is the first a pixel
ever gets, it becomes the pixel's reference, and the next clear look, which
shows the ground as it is, reads as a change against it; when the look after
agrees, the change is confirmed, and a false ``appeared`` or ``disappeared``
event is born (three of the quiet scenario's false events in ten runs).  Later
looks are safe from this: they are tested against a reference, so a missed
shadow on them is a candidate that reverts (a transient), not a new normal.

:class:`FirstLookDoubt` marks the first looks that lie within a few tens of
metres of a cloud or shadow mask.  Those pixels are judged (their p-values are
kept) but raise no candidate; the doubt goes at the next look that agrees with
the reference or replaces it.  A change between a pixel's first and second look
there is lost; elsewhere nothing changes.  Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from ..errors import InputError

__all__ = ["FirstLookDoubt"]


@dataclass
class FirstLookDoubt:
    """Pixels whose reference is a first look taken beside a cloud or its shadow.

    Attributes
    ----------
    near_px
        Distance, in pixels, from a cloud or shadow pixel within which a first
        look is doubted.
    doubtful
        ``(h, w)`` bool: pixels whose reference is such a look.
    """

    near_px: int
    doubtful: np.ndarray

    @classmethod
    def empty(cls, shape: tuple[int, int], near_px: int) -> FirstLookDoubt:
        """No pixel seen yet, none doubted."""
        if near_px < 0 or len(shape) != 2:
            raise InputError(
                f"near_px, shape: ({near_px}, {shape}); give a distance >= 0 and an (h, w) grid"
            )
        return cls(int(near_px), np.zeros(shape, bool))

    def testable(self, judged: np.ndarray) -> np.ndarray:
        """``(h, w)`` bool: judged pixels whose reference may raise a candidate."""
        return np.asarray(judged, bool) & ~self.doubtful

    def update(
        self,
        *,
        agreed: np.ndarray,
        replaced: np.ndarray,
        first: np.ndarray,
        sky: np.ndarray,
    ) -> None:
        """Account for one acquisition.

        Parameters
        ----------
        agreed
            Pixels judged unchanged against their reference on this date.
        replaced
            Pixels whose reference now holds this date's look.
        first
            Pixels this date gave their first reference (a subset of ``replaced``).
        sky
            The date's cloud and cloud-shadow mask.
        """
        doubtful = self.doubtful & ~np.asarray(agreed, bool) & ~np.asarray(replaced, bool)
        first = np.asarray(first, bool)
        sky = np.asarray(sky, bool)
        if first.any() and sky.any():
            doubtful |= first & (ndi.distance_transform_edt(~sky) <= self.near_px)
        self.doubtful = doubtful
