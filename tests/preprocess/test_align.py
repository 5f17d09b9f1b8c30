"""Co-registration: sub-pixel phase correlation on gradients, quality, residual, shifting."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from sitewatch.errors import InputError, NoValidDataError
from sitewatch.preprocess import align
from sitewatch.preprocess.align import (
    DEFAULT_MAX_RESIDUAL_PX,
    Alignment,
    apply_shift,
    estimate_shift,
    pick_texture_band,
)

N = 224
PAD = 32


def _landscape(seed: int) -> np.ndarray:
    """Spectrum of a band-limited scene: smooth fields plus blurred buildings and roads."""
    rng = np.random.default_rng(seed)
    n = N + 2 * PAD
    img = ndi.gaussian_filter(rng.normal(size=(n, n)), 6) * 8
    for _ in range(60):
        y, x = rng.integers(0, n - 12, size=2)
        hy, hx = rng.integers(2, 12, size=2)
        img[y : y + hy, x : x + hx] += rng.uniform(-1, 1)
    img[:, rng.integers(0, n, 3)] += 0.8
    return np.fft.fft2(ndi.gaussian_filter(img, 0.8))


def _view(spec: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """The scene with its content moved by (dy, dx) px (exact Fourier shift), cropped."""
    n = spec.shape[0]
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.fftfreq(n)[None, :]
    img = np.real(np.fft.ifft2(spec * np.exp(-2j * np.pi * (fy * dy + fx * dx))))
    return img[PAD : PAD + N, PAD : PAD + N].astype(np.float32)


def _clouds(seed: int, share: float) -> np.ndarray:
    blob = ndi.gaussian_filter(np.random.default_rng(seed).normal(size=(N, N)), 9)
    return blob > np.quantile(blob, 1 - share)


SHIFTS = [(0.3, -1.7), (-2.45, 0.8), (0.0, 0.0), (4.15, 3.35), (-0.55, -0.05)]


@pytest.mark.parametrize(("sy", "sx"), SHIFTS)
@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_subpixel_shift_under_radiometric_change_and_clouds(
    seed: int, sy: float, sx: float
) -> None:
    spec = _landscape(seed)
    rng = np.random.default_rng(seed + 10)
    ref = _view(spec, 0, 0)
    # another date: content moved by (sy, sx), new gain and offset, noise, 20 % cloud
    mov = _view(spec, sy, sx) * 1.35 + 4.0 + rng.normal(0, 0.05, (N, N)).astype(np.float32)
    cloud = _clouds(seed + 20, 0.2)
    mov[cloud] = 60.0  # bright and flat, with sharp edges of its own
    valid_ref = ~_clouds(seed + 30, 0.05)
    a = estimate_shift(ref, mov, valid_ref, ~cloud)
    assert isinstance(a, Alignment)
    # the shift that registers the moving image undoes the motion
    assert abs(a.dy + sy) < 0.1 and abs(a.dx + sx) < 0.1, a
    assert a.ok and a.quality > 0.8 and a.residual_px <= 0.15 and a.n_windows >= 4


def test_aligned_image_matches_reference() -> None:
    spec = _landscape(3)
    ref = _view(spec, 0, 0)
    mov = _view(spec, 1.3, -0.6)
    a = estimate_shift(ref, mov)
    out, valid = apply_shift(mov, a.dy, a.dx, order=3)
    err = np.abs(out - ref)[valid]
    assert valid.mean() > 0.95
    assert np.percentile(err, 99) < 0.05 * float(ref.std())


def test_featureless_scene_is_not_ok() -> None:
    rng = np.random.default_rng(5)
    ref = (1000 + rng.normal(0, 5, (N, N))).astype(np.float32)
    mov = (1100 + rng.normal(0, 5, (N, N))).astype(np.float32)
    a = estimate_shift(ref, mov)
    assert not a.ok and a.quality < 0.2 and "correlation" in a.reason


def test_unrelated_scenes_are_not_ok() -> None:
    a = estimate_shift(_view(_landscape(6), 0, 0), _view(_landscape(7), 0, 0))
    assert not a.ok


def test_non_translational_motion_shows_in_the_residual() -> None:
    spec = _landscape(8)
    ref = _view(spec, 0, 0)
    # a 3 % zoom about the centre: local shifts of up to about 3 px across the image
    c = (N - 1) / 2
    zoomed = ndi.affine_transform(ref, np.diag([1 / 1.03, 1 / 1.03]), offset=c - c / 1.03, order=3)
    a = estimate_shift(ref, zoomed)
    assert a.residual_px > DEFAULT_MAX_RESIDUAL_PX and not a.ok and "disagree" in a.reason


def test_max_shift_bound() -> None:
    spec = _landscape(9)
    a = estimate_shift(_view(spec, 0, 0), _view(spec, 6.0, 0.0), max_shift_px=3.0)
    assert abs(a.dy + 6.0) < 0.1 and not a.ok and "max_shift_px" in a.reason


def test_pick_texture_band() -> None:
    rng = np.random.default_rng(11)
    tex = _view(_landscape(11), 0, 0)
    flat = 500 + rng.normal(0, 1, (N, N))
    noisy = 0.2 * tex + rng.normal(0, 3, (N, N))  # some texture, drowned in noise
    scene = np.stack([flat, noisy, tex * 10 + 300, noisy]).astype(np.float32)
    assert pick_texture_band(scene) == 2
    valid = np.ones((N, N), bool)
    valid[:, : N // 2] = False
    assert pick_texture_band(scene, valid) == 2


def test_apply_shift_footprint_and_bands() -> None:
    img = np.arange(3 * 20 * 30, dtype=np.float32).reshape(3, 20, 30)
    valid = np.ones((20, 30), bool)
    valid[10, 10] = False
    out, ok = apply_shift(img, 2.0, -3.0, valid=valid)
    assert out.shape == img.shape and out.dtype == np.float32
    assert not ok[:2].any() and not ok[:, -3:].any()
    assert not ok[12, 7] and ok[12, 8] and ok[13, 7]
    np.testing.assert_allclose(out[:, 5, 5], img[:, 3, 8])
    assert (out[:, ~ok] == 0).all()
    half, ok_half = apply_shift(img[0], 0.5, 0.0)
    assert half.shape == (20, 30) and not ok_half[0].any() and ok_half[1:].all()
    np.testing.assert_allclose(half[5, 5], (img[0, 4, 5] + img[0, 5, 5]) / 2)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"reference": np.zeros((32, 32)), "moving": np.zeros((32, 31))},
            InputError,
            "reference has shape",
        ),
        (
            {"reference": np.zeros((2, 32, 32)), "moving": np.zeros((2, 32, 32))},
            InputError,
            "reference has shape",
        ),
        (
            {
                "reference": np.zeros((32, 32)),
                "moving": np.zeros((32, 32)),
                "valid_mov": np.ones((3, 3), bool),
            },
            InputError,
            "valid_mov has shape",
        ),
        (
            {
                "reference": np.ones((32, 32)),
                "moving": np.ones((32, 32)),
                "valid_mov": np.zeros((32, 32), bool),
            },
            NoValidDataError,
            "valid_mov leaves 0 valid pixels",
        ),
        (
            {"reference": np.full((32, 32), np.nan), "moving": np.ones((32, 32))},
            NoValidDataError,
            "valid_ref leaves 0 valid pixels",
        ),
        (
            {"reference": np.ones((32, 32)), "moving": np.ones((32, 32)), "upsample": 0},
            InputError,
            "upsample is 0",
        ),
    ],
)
def test_estimate_shift_bad_input(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        estimate_shift(**kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((np.zeros(5), 1.0, 1.0), {}, "array has shape"),
        ((np.zeros((5, 5)), np.nan, 1.0), {}, "not finite"),
        ((np.zeros((5, 5)), 1.0, 1.0), {"order": 7}, "order is 7"),
        ((np.zeros((5, 5)), 1.0, 1.0), {"valid": np.ones((4, 4), bool)}, "valid has shape"),
    ],
)
def test_apply_shift_bad_input(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        apply_shift(*args, **kwargs)


def test_pick_texture_band_bad_input() -> None:
    with pytest.raises(InputError, match="scene has shape"):
        pick_texture_band(np.zeros((8, 8)))
    with pytest.raises(NoValidDataError, match="valid leaves 0 usable pixels"):
        pick_texture_band(np.zeros((2, 32, 32)), np.zeros((32, 32), bool))


def test_a_reference_cache_gives_the_same_answers_for_a_series() -> None:
    spec = _landscape(4)
    ref = _view(spec, 0, 0)
    valid_ref = ~_clouds(40, 0.05)
    cache: dict = {}
    for k, (sy, sx) in enumerate(SHIFTS[:3]):
        mov = _view(spec, sy, sx) * 1.2 + 1.0
        cloud = _clouds(50 + k, 0.15)
        plain = estimate_shift(ref, mov, valid_ref, ~cloud)
        cached = estimate_shift(ref, mov, valid_ref, ~cloud, reference_cache=cache)
        assert cached == plain or (np.isnan(plain.residual_px) and cached.dy == plain.dy)
    # the whole image and the clear sub-windows of the reference were computed once
    assert (-1, -1) in cache and len(cache) >= 5


@pytest.mark.parametrize("shape", [(1, 1), (3, 40), (40, 2), (37, 29)])
def test_separable_filters_equal_ndimage_bit_for_bit(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    x = (rng.normal(size=shape) * 100).astype(np.float32)
    x[rng.random(shape) < 0.3] = 0
    for sigma in (1.0, 1.5, 4.0):
        np.testing.assert_array_equal(
            align._gaussian(x, sigma).view(np.uint32), ndi.gaussian_filter(x, sigma).view(np.uint32)
        )
    for axis in (0, 1):
        np.testing.assert_array_equal(
            align._sobel(x, axis).view(np.uint32), ndi.sobel(x, axis=axis).view(np.uint32)
        )


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_erode_is_iterated_binary_erosion(steps: int) -> None:
    rng = np.random.default_rng(steps)
    valid = ndi.binary_opening(rng.random((31, 45)) > 0.2)
    expected = ndi.binary_erosion(valid, structure=np.ones((3, 3), bool), iterations=steps)
    np.testing.assert_array_equal(align._erode(valid, steps), expected)


@pytest.mark.parametrize("shape", [(1, 1), (5, 9), (40, 23)])
def test_upsampled_dft_is_the_matrix_dft(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[1])
    data = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)
    region, upsample, offsets = 7, 4, (3.0, -1.5)
    # the DFT at the points (offsets + k) / upsample, written out as sums
    rows = (np.arange(region) - offsets[0])[:, None] * np.fft.fftfreq(shape[0], upsample)[None, :]
    cols = (np.arange(region) - offsets[1])[:, None] * np.fft.fftfreq(shape[1], upsample)[None, :]
    expected = (
        np.exp(-2j * np.pi * rows) @ data.astype(np.complex128) @ np.exp(-2j * np.pi * cols).T
    )
    got = align._upsampled_dft(data, region, upsample, offsets)
    assert got.shape == (region, region)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
