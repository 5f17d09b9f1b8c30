"""Before/after chips of an event: the same crop of two dates, one stretch, the outline.

Pure numpy: images in (true colour, or one layer such as radar dB shown in
grey through :func:`grey_rgb`), ``(h, w, 3)`` uint8 RGB out (PNG encoding is
:func:`sitewatch.report.figures.png_bytes`).  A crop is clipped at the grid's
edges, so an event near (or partly beyond) the edge gives a smaller chip,
never an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import InputError
from ..models import Event

__all__ = [
    "OUTLINE_RGB",
    "Chip",
    "ChipPair",
    "CropWindow",
    "Stretch",
    "apply_stretch",
    "chip_pair",
    "crop_window",
    "fit_stretch",
    "grey_rgb",
]

#: event outline colour on chips (magenta stands out on soil, vegetation and concrete)
OUTLINE_RGB = (255, 0, 255)
#: colour of pixels with no valid data
NODATA_RGB = (128, 128, 128)
#: chips are enlarged by whole pixels up to about this side, so small events stay legible
CHIP_TARGET_PX = 240


@dataclass(frozen=True)
class Stretch:
    """A per-channel linear stretch: ``lo`` maps to 0 and ``hi`` to 255."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]


def fit_stretch(*images: np.ndarray, low: float = 2.0, high: float = 98.0) -> Stretch:
    """Per-channel percentiles over the valid pixels of all ``images`` together.

    Parameters
    ----------
    *images : numpy.ndarray
        ``(h, w, 3)`` float arrays, NaN where not valid.
    low, high : float
        Percentiles mapped to black and white.

    Returns
    -------
    Stretch
        ``(0, 1)`` on a channel with no valid pixel; ``hi > lo`` always.
    """
    if not 0.0 <= low < high <= 100.0:
        raise InputError(f"low, high: ({low}, {high}); give percentiles 0 <= low < high <= 100")
    los, his = [], []
    for ch in range(3):
        pooled = [np.ravel(im[..., ch]).astype(float) for im in images]
        values = np.concatenate(pooled) if pooled else np.empty(0)
        values = values[np.isfinite(values)]
        if values.size == 0:
            lo, hi = 0.0, 1.0
        else:
            lo, hi = (float(v) for v in np.percentile(values, [low, high]))
            if hi <= lo:  # a flat channel: any positive span shows it as mid-grey or flat
                hi = lo + 1e-6
        los.append(lo)
        his.append(hi)
    return Stretch((los[0], los[1], los[2]), (his[0], his[1], his[2]))


def grey_rgb(layer: np.ndarray) -> np.ndarray:
    """One ``(h, w)`` layer as ``(h, w, 3)`` grey, so it stretches and draws like RGB."""
    if layer.ndim != 2:
        raise InputError(f"layer: array of shape {layer.shape}; give one (h, w) layer")
    return np.repeat(layer[..., None], 3, axis=-1)


def apply_stretch(image: np.ndarray, stretch: Stretch) -> np.ndarray:
    """``(h, w, 3)`` float image to uint8 RGB; pixels with any NaN channel become grey."""
    lo = np.asarray(stretch.lo, dtype=np.float32)
    hi = np.asarray(stretch.hi, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        scaled = np.clip((image - lo) / (hi - lo), 0.0, 1.0)
    bad = ~np.isfinite(image).all(axis=-1)
    out = np.round(np.nan_to_num(scaled, nan=0.0) * 255.0).astype(np.uint8)
    out[bad] = NODATA_RGB
    return out


@dataclass(frozen=True)
class CropWindow:
    """Rows ``row0:row1`` and columns ``col0:col1`` of the grid (possibly empty)."""

    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def empty(self) -> bool:
        return self.row1 <= self.row0 or self.col1 <= self.col0

    @property
    def shape(self) -> tuple[int, int]:
        return max(0, self.row1 - self.row0), max(0, self.col1 - self.col0)


def crop_window(
    offset: tuple[int, int],
    size: tuple[int, int],
    grid_shape: tuple[int, int],
    margin_px: int | None = None,
    min_side_px: int = 32,
) -> CropWindow:
    """A window around a footprint, with a margin, clipped to the grid.

    Parameters
    ----------
    offset : tuple of int
        (row, col) of the footprint's bounding box on the grid.
    size : tuple of int
        (rows, cols) of the bounding box.
    grid_shape : tuple of int
        (height, width) of the grid.
    margin_px : int or None
        Ground shown on each side; None: the footprint's larger side, so the
        chip shows as much context as change.
    min_side_px : int
        The window (before clipping) is at least this wide and tall.
    """
    rows, cols = size
    if rows < 1 or cols < 1:
        raise InputError(f"size: {size}; give the footprint's (rows, cols), both >= 1")
    margin = max(rows, cols) if margin_px is None else margin_px
    if margin < 0:
        raise InputError(f"margin_px: {margin_px}; give a margin >= 0 or None")
    r0, c0 = offset
    half_r = max(rows + 2 * margin, min_side_px) / 2.0
    half_c = max(cols + 2 * margin, min_side_px) / 2.0
    centre_r, centre_c = r0 + rows / 2.0, c0 + cols / 2.0
    h, w = grid_shape
    return CropWindow(
        row0=max(0, int(np.floor(centre_r - half_r))),
        row1=min(h, int(np.ceil(centre_r + half_r))),
        col0=max(0, int(np.floor(centre_c - half_c))),
        col1=min(w, int(np.ceil(centre_c + half_c))),
    )


def footprint_in(event: Event, window: CropWindow) -> np.ndarray:
    """The event's footprint on ``window`` as a bool array (parts outside are dropped)."""
    out = np.zeros(window.shape, dtype=bool)
    r, c = event.offset
    mh, mw = event.mask.shape
    # Overlap of the mask's box and the window, in grid coordinates.
    top, bottom = max(r, window.row0), min(r + mh, window.row1)
    left, right = max(c, window.col0), min(c + mw, window.col1)
    if bottom > top and right > left:
        out[top - window.row0 : bottom - window.row0, left - window.col0 : right - window.col0] = (
            event.mask[top - r : bottom - r, left - c : right - c]
        )
    return out


def outline(mask: np.ndarray, scale: int) -> np.ndarray:
    """A ring just outside ``mask`` enlarged ``scale`` times, about ``scale / 3`` px thick.

    Outside, so the changed pixels themselves stay visible under the line.
    """
    big = np.kron(mask, np.ones((scale, scale), dtype=bool)).astype(bool)
    width = max(2, scale // 3)
    return ndimage.binary_dilation(big, iterations=width) & ~big


@dataclass(frozen=True, eq=False)
class Chip:
    """One chip: the enlarged RGB picture and what it shows."""

    rgb: np.ndarray
    valid_fraction: float


@dataclass(frozen=True, eq=False)
class ChipPair:
    """The before and after chips of one event, cut from the same window.

    ``stretch`` is the one both chips share (None when neither could be cut).
    """

    event_id: str
    window: CropWindow
    scale: int
    before: Chip | None
    after: Chip | None
    stretch: Stretch | None = None


def chip_pair(
    event: Event,
    before: np.ndarray | None,
    after: np.ndarray | None,
    margin_px: int | None = None,
) -> ChipPair:
    """Crop ``before`` and ``after`` around ``event``, stretch them alike, draw its outline.

    Parameters
    ----------
    event : Event
        Its footprint (``mask`` at ``offset``) gives the crop and the outline.
    before, after : numpy.ndarray or None
        ``(h, w, 3)`` float RGB on the event's grid, NaN where not valid; None
        when the series has no image for that side.
    margin_px : int or None
        See :func:`crop_window`.

    Returns
    -------
    ChipPair
        Chips are None for a missing image or a window wholly off the grid.
    """
    for name, img in (("before", before), ("after", after)):
        if img is not None and (img.ndim != 3 or img.shape[:2] != tuple(event.grid_shape)):
            raise InputError(
                f"{name}: image of shape {img.shape} is not ({event.grid_shape[0]}, "
                f"{event.grid_shape[1]}, 3) RGB on event {event.event_id}'s grid; give "
                "images of the same run"
            )
    window = crop_window(event.offset, event.mask.shape, event.grid_shape, margin_px)
    scale = max(1, CHIP_TARGET_PX // max(1, max(window.shape)))
    if window.empty:
        return ChipPair(event.event_id, window, scale, None, None)
    crops = [
        None if img is None else img[window.row0 : window.row1, window.col0 : window.col1]
        for img in (before, after)
    ]
    stretch = fit_stretch(*[c for c in crops if c is not None])
    border = outline(footprint_in(event, window), scale)

    def render(crop: np.ndarray | None) -> Chip | None:
        if crop is None:
            return None
        rgb = apply_stretch(crop, stretch)
        rgb = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
        rgb[border] = OUTLINE_RGB
        valid = float(np.isfinite(crop).all(axis=-1).mean())
        return Chip(rgb, valid)

    return ChipPair(
        event.event_id, window, scale, render(crops[0]), render(crops[1]),
        stretch if any(c is not None for c in crops) else None,
    )  # fmt: skip
