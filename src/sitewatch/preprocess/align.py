"""Sub-pixel co-registration of a scene to a reference by phase correlation.

The correlation runs on a *gradient-magnitude* image of one texture-rich
band, not on the band itself: edges keep their place when the radiometry
changes between dates (gain, offset, haze, even a contrast reversal of a
field), and the mean level drops out.  Masked pixels (nodata, cloud, shadow)
are filled smoothly and then down-weighted with a feathered mask, so neither
the cloud outlines nor the image border create edges of their own.

The phase correlation and its sub-pixel refinement (a matrix-multiply DFT
upsampled around the integer peak, Guizar-Sicairos et al. 2008) are written
here rather than taken from scikit-image: scikit-image's masked mode
(Padfield 2012) is integer-pixel only, and the runtime does not depend on
scikit-image.  The cross-power spectrum is phase-normalised and then
low-pass weighted, which smooths the correlation peak without moving it.
The transforms are scipy's, which handles sizes with a large prime factor (a
614 px grid is 2 x 307) several times faster than numpy's.

Quality is the normalised cross-correlation of the two gradient images
after the shift (about 0 for unrelated or featureless images); the
residual is how far shifts estimated on overlapping sub-windows fall from the
global one, which catches failed matches and motion that is not a
translation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TypeAlias

import numba
import numpy as np
from scipy import fft
from scipy import ndimage as ndi

from ..change.stats import bilinear_grid
from ..errors import InputError, NoValidDataError

#: an alignment whose sub-window estimates disagree by more than this is not trusted
DEFAULT_MAX_RESIDUAL_PX = 0.5
#: gradient correlation after the shift below which the match is not trusted
DEFAULT_MIN_QUALITY = 0.2

_MIN_VALID_PX = 256
_MIN_WINDOW = 32
_SMOOTH_SIGMA = 1.0


@dataclass(frozen=True)
class Alignment:
    """Translation that registers a moving image onto a reference.

    Attributes
    ----------
    dy, dx
        Shift in pixels (rows, columns) to apply to the moving image, e.g.
        with :func:`apply_shift`, so that it matches the reference.  Content
        that moved down by 2 rows gives ``dy = -2``.
    residual_px
        Median distance of the sub-window estimates from ``(dy, dx)``; NaN
        when the image is too small or too masked for sub-windows.
    quality
        Normalised cross-correlation (-1..1) of the two gradient images over
        their common clear pixels after the shift.
    ok
        True when ``quality >= min_quality`` and the residual is within its
        limit (a NaN residual is accepted only with twice the minimum quality).
    n_windows
        Sub-windows that gave an estimate.
    reason
        Why ``ok`` is False ("" otherwise).
    """

    dy: float
    dx: float
    residual_px: float
    quality: float
    ok: bool
    n_windows: int = 0
    reason: str = ""


# ---------------------------------------------------------------------------
# phase correlation


#: output columns per block of :func:`_contract`: the block's accumulators stay in cache
_DFT_BLOCK = 64


@numba.njit(nogil=True, cache=True)
def _contract(
    kr: np.ndarray, ki: np.ndarray, dr: np.ndarray, di: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - jitted
    """``k @ d`` for complex ``k (m, n)`` and ``d (n, p)`` given as real and imaginary
    float64 planes; the product's planes.

    Output columns go in blocks whose accumulators (and one row of ``d``) stay in
    cache; the innermost loop has a fixed length, which the compiler vectorises.
    """
    m, n = kr.shape
    p = dr.shape[1]
    outr = np.empty((m, p))
    outi = np.empty((m, p))
    acc_r = np.empty((m, _DFT_BLOCK))
    acc_i = np.empty((m, _DFT_BLOCK))
    xr = np.zeros(_DFT_BLOCK)
    xi = np.zeros(_DFT_BLOCK)
    for c0 in range(0, p, _DFT_BLOCK):
        nb = min(_DFT_BLOCK, p - c0)
        acc_r[:] = 0.0
        acc_i[:] = 0.0
        xr[nb:] = 0.0  # the last block's unused lanes
        xi[nb:] = 0.0
        for j in range(n):
            for c in range(nb):
                xr[c] = dr[j, c0 + c]
                xi[c] = di[j, c0 + c]
            for r in range(m):
                a = kr[r, j]
                b = ki[r, j]
                for c in range(_DFT_BLOCK):
                    acc_r[r, c] += a * xr[c] - b * xi[c]
                    acc_i[r, c] += a * xi[c] + b * xr[c]
        for r in range(m):
            for c in range(nb):
                outr[r, c0 + c] = acc_r[r, c]
                outi[r, c0 + c] = acc_i[r, c]
    return outr, outi


def _upsampled_dft(
    data: np.ndarray, region: int, upsample: int, offsets: tuple[float, float]
) -> np.ndarray:
    """Inverse DFT of ``data`` on a ``region x region`` grid of spacing ``1/upsample`` px.

    Two matrix products (columns, then rows) with thin DFT kernels.  They run in
    jitted loops rather than BLAS: OpenBLAS splits a product this size over
    threads that then spin on a core the rest of the run needs, which on a
    loaded two-core machine cost more than the product itself.
    """
    h, w = data.shape

    def kernel(n_items: int, off: float) -> tuple[np.ndarray, np.ndarray]:
        freqs = fft.fftfreq(n_items, upsample)
        k = np.exp(-2j * np.pi * (np.arange(region) - off)[:, None] * freqs[None, :])
        return np.ascontiguousarray(k.real), np.ascontiguousarray(k.imag)

    # columns: (region, w) @ (w, h); then rows: (region, h) @ (h, region)
    cols_r, cols_i = _contract(
        *kernel(w, offsets[1]),
        np.ascontiguousarray(data.real.T, dtype=np.float64),
        np.ascontiguousarray(data.imag.T, dtype=np.float64),
    )
    out_r, out_i = _contract(
        *kernel(h, offsets[0]), np.ascontiguousarray(cols_r.T), np.ascontiguousarray(cols_i.T)
    )
    return out_r + 1j * out_i


@functools.lru_cache(maxsize=8)
def _low_pass(shape: tuple[int, int]) -> np.ndarray:
    """Gaussian weight of the cross-power spectrum: smooths the correlation surface
    symmetrically (the peak stays put).  Cached: a series aligns many scenes (and
    their sub-windows) of one size."""
    fy = fft.fftfreq(shape[0])[:, None]
    fx = fft.fftfreq(shape[1])[None, :]
    weight = np.exp(-(fy * fy + fx * fx) / (2 * 0.15**2))
    weight.flags.writeable = False
    return weight


def _phase_correlate(
    f_ref: np.ndarray, mov: np.ndarray, upsample: int
) -> tuple[float, float, float]:
    """Shift registering ``mov`` onto the image whose 2-D FFT is ``f_ref``, and the
    peak-to-mean ratio of the correlation."""
    f_mov = fft.fft2(mov)
    prod = f_ref * np.conj(f_mov)
    mag = np.abs(prod)
    prod /= np.maximum(mag, 1e-12 * mag.max() + 1e-30)
    prod *= _low_pass(prod.shape)
    cc = np.abs(fft.ifft2(prod))
    peak = np.unravel_index(int(np.argmax(cc)), cc.shape)
    sharp = float(cc[peak] / max(float(cc.mean()), 1e-30))
    shifts = np.array(peak, dtype=float)
    dims = np.array(cc.shape, dtype=float)
    wrap = shifts > np.fix(dims / 2)
    shifts[wrap] -= dims[wrap]
    if upsample > 1:
        shifts = np.round(shifts * upsample) / upsample
        region = int(np.ceil(upsample * 1.5))
        centre = np.fix(region / 2.0)
        offsets = (float(centre - shifts[0] * upsample), float(centre - shifts[1] * upsample))
        up = np.abs(_upsampled_dft(np.conj(prod), region, upsample, offsets))
        fine = np.unravel_index(int(np.argmax(up)), up.shape)
        shifts = shifts + (np.array(fine, dtype=float) - centre) / upsample
    return float(shifts[0]), float(shifts[1]), sharp


# ---------------------------------------------------------------------------
# separable filters
#
# The features below are a handful of Gaussian and Sobel filters per scene and
# sub-window.  ``ndimage`` runs each output pixel's taps as one serial chain of
# additions; these loops run the same additions, in the same order and in float64,
# across a whole row at a time, which the compiler vectorises: the same float32
# results, bit for bit, several times faster.


@numba.njit(nogil=True, cache=True)
def _reflect_index(i: int, n: int) -> int:  # pragma: no cover - jitted
    """Index ``i`` of a line of ``n`` samples extended by half-sample reflection
    (``ndimage`` mode ``"reflect"``: ``d c b a | a b c d | d c b a``)."""
    i = i % (2 * n)
    return i if i < n else 2 * n - 1 - i


@numba.njit(nogil=True, cache=True)
def _correlate_rows(
    x: np.ndarray, taps: np.ndarray, anti: bool
) -> np.ndarray:  # pragma: no cover - jitted
    """1-D correlation along axis 0 of a float32 image with a symmetric kernel.

    ``taps[0]`` weighs the pixel and ``taps[k]`` the sum of the pixels ``k`` before and
    ``k`` after it (``anti``: the one before minus the one after), edges reflected.
    """
    h, w = x.shape
    r = taps.shape[0] - 1
    out = np.empty((h, w), np.float32)
    acc = np.empty(w)
    for i in range(h):
        row = x[i]
        t0 = taps[0]
        for c in range(w):
            acc[c] = np.float64(row[c]) * t0
        for k in range(r, 0, -1):
            a = x[_reflect_index(i - k, h)]
            b = x[_reflect_index(i + k, h)]
            tk = taps[k]
            if anti:
                for c in range(w):
                    acc[c] += (np.float64(a[c]) - np.float64(b[c])) * tk
            else:
                for c in range(w):
                    acc[c] += (np.float64(a[c]) + np.float64(b[c])) * tk
        for c in range(w):
            out[i, c] = acc[c]
    return out


@numba.njit(nogil=True, cache=True)
def _correlate_cols(
    x: np.ndarray, taps: np.ndarray, anti: bool
) -> np.ndarray:  # pragma: no cover - jitted
    """:func:`_correlate_rows` along axis 1."""
    h, w = x.shape
    r = taps.shape[0] - 1
    out = np.empty((h, w), np.float32)
    acc = np.empty(w)
    buf = np.empty(w + 2 * r)
    for i in range(h):
        row = x[i]
        for c in range(w):
            buf[c + r] = np.float64(row[c])
        for c in range(1, r + 1):
            buf[r - c] = np.float64(row[_reflect_index(-c, w)])
            buf[w + r - 1 + c] = np.float64(row[_reflect_index(w - 1 + c, w)])
        t0 = taps[0]
        for c in range(w):
            acc[c] = buf[c + r] * t0
        for k in range(r, 0, -1):
            tk = taps[k]
            lo = buf[r - k : r - k + w]
            hi = buf[r + k : r + k + w]
            if anti:
                for c in range(w):
                    acc[c] += (lo[c] - hi[c]) * tk
            else:
                for c in range(w):
                    acc[c] += (lo[c] + hi[c]) * tk
        for c in range(w):
            out[i, c] = acc[c]
    return out


@functools.lru_cache(maxsize=8)
def _gaussian_taps(sigma: float) -> np.ndarray:
    """Centre-out taps of ``ndimage.gaussian_filter``'s kernel (truncated at 4 sigma),
    computed as scipy computes them."""
    r = int(4.0 * sigma + 0.5)
    x = np.arange(-r, r + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    phi = phi / phi.sum()
    taps = np.ascontiguousarray(phi[r::-1])
    taps.flags.writeable = False
    return taps


#: centre-out taps of the Sobel derivative ``[-1, 0, 1]`` (antisymmetric) and smoothing
#: ``[1, 2, 1]``
_SOBEL_DERIVATIVE = np.array([0.0, -1.0])
_SOBEL_SMOOTH = np.array([2.0, 1.0])


def _gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    """``ndimage.gaussian_filter(x, sigma)`` of a float32 ``(h, w)`` image, exactly."""
    taps = _gaussian_taps(sigma)
    x = np.ascontiguousarray(x, dtype=np.float32)
    return _correlate_cols(_correlate_rows(x, taps, False), taps, False)


def _sobel(x: np.ndarray, axis: int) -> np.ndarray:
    """``ndimage.sobel(x, axis)`` of a float32 ``(h, w)`` image, exactly."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if axis == 0:
        return _correlate_cols(_correlate_rows(x, _SOBEL_DERIVATIVE, True), _SOBEL_SMOOTH, False)
    return _correlate_rows(_correlate_cols(x, _SOBEL_DERIVATIVE, True), _SOBEL_SMOOTH, False)


# ---------------------------------------------------------------------------
# features


def _fill(img: np.ndarray, valid: np.ndarray, sigma: float = 4.0) -> np.ndarray:
    """Replace invalid pixels by a normalised-convolution average of their valid neighbours."""
    if valid.all():
        return img
    vf = valid.astype(np.float32)
    num = _gaussian(np.where(valid, img, 0).astype(np.float32), sigma)
    den = _gaussian(vf, sigma)
    near = den > 1e-3
    # pixels with no valid neighbour within the filter's reach take the valid median
    fallback = np.float32(0) if near.all() else np.float32(np.median(img[valid]))
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.where(near, num / den, fallback)
    return np.where(valid, img, est).astype(np.float32)


def _erode(valid: np.ndarray, steps: int) -> np.ndarray:
    """``valid`` eroded ``steps`` times by a 3x3 square, outside counting as invalid.

    That is a minimum over the ``(2 steps + 1)``-square box, which a separable
    minimum filter computes in two 1-D passes (the same pixels as
    ``binary_erosion(..., iterations=steps)``, a few times faster).
    """
    return np.asarray(ndi.minimum_filter(valid, size=2 * steps + 1, mode="constant", cval=0))


def _tukey(n: int, frac: float = 0.1) -> np.ndarray:
    w = np.ones(n, dtype=np.float32)
    m = max(1, int(frac * n))
    ramp = 0.5 * (1 - np.cos(np.pi * (np.arange(m) + 0.5) / m))
    w[:m] = ramp
    w[n - m :] = ramp[::-1]
    return w


def gradient_feature(img: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient magnitude of a lightly smoothed band and its feathered weight.

    Returns
    -------
    feature, weight
        ``(h, w)`` float32: the zero-mean, weighted gradient magnitude ready
        for correlation, and the weight (0..1) that was applied.
    """
    x = _fill(img.astype(np.float32), valid)
    x = _gaussian(x, _SMOOTH_SIGMA)
    g = np.hypot(_sobel(x, 0), _sobel(x, 1)).astype(np.float32)
    core = _erode(valid, 3)
    weight = _gaussian(core.astype(np.float32), 1.5)
    weight *= _tukey(img.shape[0])[:, None] * _tukey(img.shape[1])[None, :]
    sw = float(weight.sum())
    if sw <= 0:
        return np.zeros_like(g), weight
    g = g - np.float32(float((g * weight).sum()) / sw)
    return (g * weight).astype(np.float32), weight


@dataclass(frozen=True)
class ReferenceFeature:
    """A reference (sub-)image ready for correlation (see :func:`gradient_feature`).

    Attributes
    ----------
    feature, weight
        The weighted gradient magnitude and its weight, ``(h, w)`` float32.
    spectrum
        The 2-D FFT of ``feature``.
    """

    feature: np.ndarray
    weight: np.ndarray
    spectrum: np.ndarray

    @classmethod
    def of(cls, img: np.ndarray, valid: np.ndarray) -> ReferenceFeature:
        """The feature of ``img`` over its ``valid`` pixels."""
        feature, weight = gradient_feature(img, valid)
        return cls(feature, weight, fft.fft2(feature))


#: reference features by the top-left corner of their window, ``(-1, -1)`` for the
#: whole image (see ``reference_cache`` of :func:`estimate_shift`)
ReferenceCache: TypeAlias = dict[tuple[int, int], ReferenceFeature]


def _shift_linear(img: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """``ndimage.shift(img, (dy, dx), order=1, mode="constant")`` of a float32 image, exactly."""
    h, w = img.shape
    return bilinear_grid(img, np.arange(h) - dy, np.arange(w) - dx)


def _ncc_after_shift(
    f_ref: np.ndarray, w_ref: np.ndarray, f_mov: np.ndarray, w_mov: np.ndarray, dy: float, dx: float
) -> float:
    """Correlation of the gradient images over their common well-weighted pixels after the shift."""
    mov = _shift_linear(f_mov, dy, dx)
    wm = _shift_linear(w_mov, dy, dx)
    both = (w_ref > 0.5) & (wm > 0.5)
    if both.sum() < _MIN_VALID_PX // 4:
        return float("nan")
    a = f_ref[both] / w_ref[both]
    b = mov[both] / wm[both]
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def _check_pair(
    reference: np.ndarray,
    moving: np.ndarray,
    valid_ref: np.ndarray | None,
    valid_mov: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    reference = np.asarray(reference)
    moving = np.asarray(moving)
    if reference.ndim != 2 or moving.shape != reference.shape:
        raise InputError(
            f"reference has shape {reference.shape} and moving {moving.shape}; give two (h, w) "
            "bands of the same grid (pick one band, e.g. with pick_texture_band)"
        )
    masks = []
    for name, m, img in (("valid_ref", valid_ref, reference), ("valid_mov", valid_mov, moving)):
        fin = np.isfinite(img)
        if m is None:
            masks.append(fin)
            continue
        m = np.asarray(m)
        if m.shape != reference.shape:
            raise InputError(
                f"{name} has shape {m.shape} but the images are {reference.shape}; "
                f"give a boolean {name} of shape {reference.shape}"
            )
        masks.append(m.astype(bool) & fin)
    for name, m in (("valid_ref", masks[0]), ("valid_mov", masks[1])):
        n = int(m.sum())
        if n < _MIN_VALID_PX:
            raise NoValidDataError(
                f"{name} leaves {n} valid pixels (need at least {_MIN_VALID_PX}); the scene is "
                "blank or fully clouded: skip it for alignment or give a larger area"
            )
    ref = np.where(masks[0], reference, 0).astype(np.float32)
    mov = np.where(masks[1], moving, 0).astype(np.float32)
    return ref, mov, masks[0], masks[1]


def estimate_shift(
    reference: np.ndarray,
    moving: np.ndarray,
    valid_ref: np.ndarray | None = None,
    valid_mov: np.ndarray | None = None,
    upsample: int = 20,
    *,
    max_residual_px: float = DEFAULT_MAX_RESIDUAL_PX,
    min_quality: float = DEFAULT_MIN_QUALITY,
    max_shift_px: float | None = None,
    reference_cache: ReferenceCache | None = None,
) -> Alignment:
    """Sub-pixel translation registering ``moving`` onto ``reference``.

    Parameters
    ----------
    reference, moving
        ``(h, w)`` images of one band on the same grid (e.g. the band chosen
        by :func:`pick_texture_band`); radiometry may differ.
    valid_ref, valid_mov
        ``(h, w)`` bool: clear pixels of each image (default: finite pixels).
    upsample
        Sub-pixel resolution is ``1 / upsample`` px.
    max_residual_px
        Largest sub-window disagreement accepted as aligned.
    min_quality
        Smallest gradient correlation after the shift accepted as aligned.
    max_shift_px
        Optional bound on ``hypot(dy, dx)``; larger shifts are flagged.
    reference_cache
        A dict kept by the caller across calls with the *same* ``reference`` and
        ``valid_ref`` (a series aligned to one scene): the reference's features
        and their spectra are computed once instead of once per call.

    Raises
    ------
    InputError
        Shapes differ or ``upsample`` is below 1.
    NoValidDataError
        Either image has fewer than 256 valid pixels.
    """
    if upsample < 1:
        raise InputError(f"upsample is {upsample}; give an integer of 1 or more (e.g. 20)")
    ref, mov, vr, vm = _check_pair(reference, moving, valid_ref, valid_mov)
    cache: ReferenceCache = {} if reference_cache is None else reference_cache

    def ref_feature(r0: int, c0: int, sl: tuple[slice, slice]) -> ReferenceFeature:
        if (r0, c0) not in cache:
            cache[(r0, c0)] = ReferenceFeature.of(ref[sl], vr[sl])
        return cache[(r0, c0)]

    full = ref_feature(-1, -1, (slice(None), slice(None)))
    f_mov, w_mov = gradient_feature(mov, vm)
    dy, dx, _ = _phase_correlate(full.spectrum, f_mov, upsample)
    quality = _ncc_after_shift(full.feature, full.weight, f_mov, w_mov, dy, dx)

    # sub-windows: 3 x 3 overlapping half-size windows
    h, w = ref.shape
    wh, ww = h // 2, w // 2
    dists: list[float] = []
    if wh >= _MIN_WINDOW and ww >= _MIN_WINDOW:
        for r0 in (0, h // 4, h - wh):
            for c0 in (0, w // 4, w - ww):
                sl = (slice(r0, r0 + wh), slice(c0, c0 + ww))
                if vr[sl].mean() < 0.5 or vm[sl].mean() < 0.5:
                    continue
                window = ref_feature(r0, c0, sl)
                fm, wm = gradient_feature(mov[sl], vm[sl])
                sy, sx, _ = _phase_correlate(window.spectrum, fm, upsample)
                q = _ncc_after_shift(window.feature, window.weight, fm, wm, sy, sx)
                if not np.isfinite(q) or q < min_quality:
                    continue
                dists.append(float(np.hypot(sy - dy, sx - dx)))
    residual = float(np.median(dists)) if len(dists) >= 2 else float("nan")

    reasons = []
    if not np.isfinite(quality) or quality < min_quality:
        reasons.append(
            f"gradient correlation {quality:.3f} after the shift is below {min_quality} "
            "(featureless, unrelated or mostly masked images)"
        )
    if np.isfinite(residual) and residual > max_residual_px:
        reasons.append(
            f"sub-window estimates disagree by {residual:.2f} px (limit {max_residual_px} px)"
        )
    if not np.isfinite(residual) and np.isfinite(quality) and quality < 2 * min_quality:
        reasons.append("too few clear sub-windows to check the shift and the correlation is weak")
    if max_shift_px is not None and np.hypot(dy, dx) > max_shift_px:
        reasons.append(f"shift {np.hypot(dy, dx):.2f} px exceeds max_shift_px={max_shift_px}")
    return Alignment(
        dy=dy,
        dx=dx,
        residual_px=residual,
        quality=float(quality) if np.isfinite(quality) else float("nan"),
        ok=not reasons,
        n_windows=len(dists),
        reason="; ".join(reasons),
    )


def _usable(stack: np.ndarray, valid: np.ndarray | None, what: str) -> np.ndarray:
    """Pixels finite in every band of ``(bands, h, w)`` and, if given, inside ``valid``."""
    v = np.all(np.isfinite(stack), axis=0)
    if valid is not None:
        valid = np.asarray(valid)
        if valid.shape != stack.shape[1:]:
            raise InputError(
                f"valid has shape {valid.shape} but the {what} is {stack.shape}; "
                f"give a boolean mask of shape {stack.shape[1:]}"
            )
        v &= valid.astype(bool)
    return v


def pick_texture_band(scene: np.ndarray, valid: np.ndarray | None = None) -> int:
    """Index of the band with the most texture relative to its noise.

    The score is the 90th percentile of the gradient magnitude (Gaussian
    sigma 1) over valid pixels divided by a noise estimate (Immerkaer 1996:
    mean absolute response to a Laplacian-difference kernel), so a bright but
    noisy band does not win by its level alone.  On Sentinel-2 this is
    usually red or NIR.

    Parameters
    ----------
    scene
        ``(bands, h, w)`` image.
    valid
        ``(h, w)`` bool of usable pixels (default: finite in every band).
    """
    scene = np.asarray(scene)
    if scene.ndim != 3:
        raise InputError(f"scene has shape {scene.shape}; give a (bands, h, w) image")
    v = _usable(scene, valid, "scene")
    core = _erode(v, 2)
    if core.sum() < _MIN_VALID_PX:
        raise NoValidDataError(
            f"valid leaves {int(core.sum())} usable pixels (need at least {_MIN_VALID_PX}); "
            "give a clearer scene or a larger area"
        )
    lap = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    scores = []
    for b in range(scene.shape[0]):
        x = _fill(np.where(v, scene[b], 0).astype(np.float32), v)
        xs = _gaussian(x, _SMOOTH_SIGMA)
        g = np.hypot(_sobel(xs, 0), _sobel(xs, 1))
        noise = float(np.mean(np.abs(ndi.convolve(x, lap)[core]))) * np.sqrt(np.pi / 2) / 6
        texture = float(np.percentile(g[core], 90))
        scores.append(texture / max(noise, 1e-12 * max(texture, 1e-30), 1e-30))
    return int(np.argmax(scores))


def apply_shift(
    array: np.ndarray,
    dy: float,
    dx: float,
    order: int = 1,
    valid: np.ndarray | None = None,
    fill: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Translate an image by ``(dy, dx)`` pixels and say where the result is trustworthy.

    Parameters
    ----------
    array
        ``(h, w)`` or ``(bands, h, w)``; only the last two axes move.
    dy, dx
        Shift in pixels, as returned in :class:`Alignment`.
    order
        Spline order of the interpolation (0 nearest, 1 bilinear, 3 cubic).
    valid
        ``(h, w)`` bool of usable source pixels (default: finite in every band).
    fill
        Value written where the result is not valid.

    Returns
    -------
    shifted, valid
        Float32 image of the same shape, and an ``(h, w)`` bool that is True
        where the whole interpolation footprint fell on valid source pixels.
    """
    a = np.asarray(array)
    if a.ndim not in (2, 3):
        raise InputError(f"array has shape {a.shape}; give an (h, w) or (bands, h, w) image")
    if order not in range(6):
        raise InputError(f"order is {order}; give a spline order between 0 and 5")
    if not (np.isfinite(dy) and np.isfinite(dx)):
        raise InputError(f"shift ({dy}, {dx}) is not finite; give a finite (dy, dx) in pixels")
    stack = a[None] if a.ndim == 2 else a
    v = _usable(stack, valid, "array")
    vf = _shift_linear(v.astype(np.float32), dy, dx)
    out_valid = vf > 1.0 - 1e-4
    if order > 1:  # wider support than the bilinear footprint
        out_valid = _erode(out_valid, order // 2)
    out = np.empty(stack.shape, dtype=np.float32)
    for b in range(stack.shape[0]):
        src = np.where(v, stack[b], 0).astype(np.float32)
        if order == 1:
            out[b] = _shift_linear(src, dy, dx)
        else:
            out[b] = ndi.shift(src, (dy, dx), order=order, mode="constant", cval=0.0)
    out[:, ~out_valid] = np.float32(fill)
    return (out[0] if a.ndim == 2 else out), np.asarray(out_valid)
