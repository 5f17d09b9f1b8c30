"""Masks: Sentinel-2 SCL classes, the spectral/temporal cloud and shadow test, the series median."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import ndimage as ndi

from sitewatch.errors import InputError
from sitewatch.preprocess.masks import (
    CloudMask,
    clear_fraction,
    scl_mask,
    series_clear_median,
    spectral_cloud_mask,
)

BANDS = ("blue", "green", "red", "nir", "swir16")
N = 192
SUN_AZIMUTH = 150.0  # morning sun from the south-east: shadows fall to the north-west
SHADOW_DIST_PX = 30


# ---------------------------------------------------------------------------
# SCL


def test_scl_classes() -> None:
    scl = np.arange(12, dtype=np.uint8).reshape(3, 4)
    m = scl_mask(scl)
    assert isinstance(m, CloudMask) and m.source == "scl"
    codes = scl.ravel()
    assert set(codes[m.cloud.ravel()]) == {8, 9, 10}
    assert set(codes[m.shadow.ravel()]) == {3}
    assert set(codes[~m.valid.ravel()]) == {0, 1}
    assert set(codes[m.snow.ravel()]) == {11}
    assert set(codes[m.clear.ravel()]) == {2, 4, 5, 6, 7, 11}  # snow is clear, flagged
    assert m.clear_fraction == pytest.approx(6 / 12)


@pytest.mark.parametrize("fill", [255, 12, np.nan])
def test_scl_unknown_codes_are_nodata(fill: float) -> None:
    scl = np.full((4, 4), 4.0)
    scl[0, 0] = fill
    m = scl_mask(scl)
    assert not m.valid[0, 0] and not m.clear[0, 0]
    assert m.clear.sum() == 15


def test_scl_dilation_region_and_valid() -> None:
    scl = np.full((20, 20), 4, np.uint8)
    scl[10, 10] = 9
    valid = np.ones((20, 20), bool)
    valid[:, :2] = False
    region = np.zeros((20, 20), bool)
    region[5:15, 5:15] = True
    m = scl_mask(scl, valid, dilate_px=2, region=region)
    assert m.cloud.sum() > 9 and m.cloud[8, 10] and not m.cloud[5, 10]
    assert not m.valid[:, :2].any()
    assert m.clear_fraction == pytest.approx(1 - m.cloud[region].mean())
    assert m.usable_as_reference() and not m.usable_as_reference(min_clear=0.99)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scl": np.zeros((2, 3, 3))}, "scl has shape"),
        ({"scl": np.zeros((3, 3)), "valid": np.ones((2, 2), bool)}, "valid has shape"),
        ({"scl": np.zeros((3, 3)), "dilate_px": -1}, "dilate_px is -1"),
    ],
)
def test_scl_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        scl_mask(**kwargs)


# ---------------------------------------------------------------------------
# synthetic scene: vegetation, soil and town, bright roofs, clouds and their shadows


def _smooth(rng: np.random.Generator, sigma: float, shape: tuple[int, int] = (N, N)) -> np.ndarray:
    f = ndi.gaussian_filter(rng.normal(size=shape), sigma)
    return (f - f.mean()) / f.std()


@dataclass
class Synthetic:
    median: np.ndarray
    scene: np.ndarray
    cloud: np.ndarray  # truth: opacity >= 0.05 (adds >= 0.02 reflectance: contaminated)
    cloud_core: np.ndarray  # opacity >= 0.5
    shadow: np.ndarray
    roofs: np.ndarray
    dark_patch: np.ndarray
    alpha: np.ndarray


def _synthetic(seed: int, cloud_share: float = 0.15, with_clouds: bool = True) -> Synthetic:
    rng = np.random.default_rng(seed)
    veg = np.array([0.03, 0.06, 0.04, 0.30, 0.18])
    soil = np.array([0.08, 0.11, 0.15, 0.22, 0.28])
    town = np.array([0.09, 0.10, 0.11, 0.16, 0.18])
    cover = _smooth(rng, 6)
    surf = np.where(cover < -0.4, 0.0, np.where(cover < 0.5, 1.0, 2.0))
    spectra = np.stack([veg, soil, town])[surf.astype(int)].transpose(2, 0, 1)
    texture = 1.0 + 0.2 * _smooth(rng, 1.5)
    clear = spectra * texture
    roofs = np.zeros((N, N), bool)
    for _ in range(12):
        y, x = rng.integers(5, N - 12, size=2)
        hy, hx = rng.integers(3, 9, size=2)
        roofs[y : y + hy, x : x + hx] = True
    roof_spec = np.array([0.34, 0.36, 0.37, 0.40, 0.36])
    clear = np.where(
        roofs, roof_spec[:, None, None] * (1 + 0.03 * rng.normal(size=(1, N, N))), clear
    )
    median = clear + rng.normal(0, 0.004, clear.shape)
    # another date: slightly different sun and atmosphere, sensor noise
    scene = clear * 1.04 + 0.008 + rng.normal(0, 0.004, clear.shape)
    dark_patch = np.zeros((N, N), bool)
    alpha = np.zeros((N, N))
    if with_clouds:
        blob = _smooth(rng, 10)
        level = np.quantile(blob, 1 - cloud_share)
        alpha = np.clip((blob - level) / 0.5 + 0.5, 0, 1)  # soft edges
        alpha[ndi.gaussian_filter(alpha, 1) < 0.02] = 0
        # keep clouds off the south-east corner so the dark patch there is sunward of them
        alpha[N // 2 + 30 :, N // 2 + 30 :] = 0
        az = np.deg2rad(SUN_AZIMUTH)
        dy, dx = np.cos(az) * SHADOW_DIST_PX, -np.sin(az) * SHADOW_DIST_PX
        shade = ndi.shift(alpha, (dy, dx), order=1)  # soft penumbra like the cloud edge
        shadow = (shade >= 0.1) & (alpha < 0.05)
        scene = scene * (1 - 0.65 * shade)
        cloud_spec = np.array([0.46, 0.45, 0.44, 0.46, 0.36])[:, None, None]
        scene = (1 - alpha) * scene + alpha * cloud_spec
        # a new dark surface (fresh asphalt on soil) far from any shadow corridor
        dark_patch[N - 25 : N - 10, N - 25 : N - 10] = True
        scene = np.where(dark_patch, scene * 0.4, scene)
    else:
        shadow = np.zeros((N, N), bool)
    return Synthetic(
        median.astype(np.float32),
        scene.astype(np.float32),
        alpha >= 0.05,
        alpha >= 0.5,
        shadow,
        roofs & (alpha == 0) & ~shadow,
        dark_patch,
        alpha,
    )


def _recall_precision(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    tp = float((pred & truth).sum())
    return tp / max(truth.sum(), 1), tp / max(pred.sum(), 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("scale", [1.0, 10000.0])
def test_clouds_and_shadows_against_the_series_median(seed: int, scale: float) -> None:
    s = _synthetic(seed)
    m = spectral_cloud_mask(
        s.scene * scale,
        BANDS,
        reference_median=s.median * scale,
        sun_azimuth_deg=SUN_AZIMUTH,
        pixel_size_m=10.0,
    )
    recall, precision = _recall_precision(m.cloud, s.cloud)
    assert recall >= 0.9 and precision >= 0.9, (recall, precision)
    assert m.cloud[s.cloud_core].mean() >= 0.995
    s_recall, s_precision = _recall_precision(m.shadow, s.shadow)
    assert s_recall >= 0.85 and s_precision >= 0.85, (s_recall, s_precision)
    assert not (m.cloud | m.shadow)[s.roofs].any(), "bright roofs flagged"
    assert not m.shadow[s.dark_patch].any(), "a dark surface on the sun side was called shadow"
    truth_clear = ~(s.cloud | s.shadow)
    assert m.clear_fraction == pytest.approx(truth_clear.mean(), abs=0.03)


def test_shadows_without_sun_azimuth_stay_near_clouds() -> None:
    s = _synthetic(0)
    m = spectral_cloud_mask(s.scene, BANDS, reference_median=s.median, pixel_size_m=10.0)
    recall, _ = _recall_precision(m.shadow, s.shadow)
    assert recall >= 0.85
    assert not m.shadow[s.roofs].any()


def test_clear_scene_is_clear() -> None:
    s = _synthetic(3, with_clouds=False)
    m = spectral_cloud_mask(s.scene, BANDS, reference_median=s.median, sun_azimuth_deg=SUN_AZIMUTH)
    assert m.cloud.sum() == 0 and m.shadow.sum() == 0
    assert m.clear_fraction == 1.0


def test_new_bright_roof_without_a_shadow_is_not_cloud() -> None:
    s = _synthetic(8, with_clouds=False)
    scene = s.scene.copy()
    scene[:, 120:130, 100:112] = np.array([0.40, 0.41, 0.41, 0.44, 0.40], np.float32)[:, None, None]
    # a high sun: the shadow of a cloud 200-3000 m up falls 5-80 px away, inside the scene
    known_sun = spectral_cloud_mask(
        scene, BANDS, reference_median=s.median, sun_azimuth_deg=SUN_AZIMUTH, pixel_size_m=10.0,
        sun_elevation_deg=75.0,
    )  # fmt: skip
    assert not known_sun.cloud.any()
    # a low sun casts the shadow of a high cloud beyond the scene: no proof either way
    low_sun = spectral_cloud_mask(
        scene, BANDS, reference_median=s.median, sun_azimuth_deg=SUN_AZIMUTH, pixel_size_m=10.0,
        sun_elevation_deg=30.0,
    )  # fmt: skip
    assert low_sun.cloud[120:130, 100:112].all()
    # without the sun's position a fresh white roof is indistinguishable from a small cloud
    for sun in ({}, {"sun_azimuth_deg": SUN_AZIMUTH}):
        unknown = spectral_cloud_mask(
            scene, BANDS, reference_median=s.median, pixel_size_m=10.0, **sun
        )
        assert unknown.cloud[120:130, 100:112].all()


@pytest.mark.parametrize(
    ("corner", "side", "nodata", "masked"),
    [
        ((160, 160), 25, False, True),  # sun-side corner: the cloud is off the grid
        ((20, 20), 25, True, True),  # its cloud would be over the scene's nodata
        ((20, 20), 25, False, False),  # the ground under every possible cloud is in view
        ((170, 170), 12, False, False),  # 1.4 ha: a dark new surface as likely as a shadow
    ],
)
def test_large_shadow_of_a_cloud_out_of_view(
    corner: tuple[int, int], side: int, nodata: bool, masked: bool
) -> None:
    s = _synthetic(9, with_clouds=False)
    scene = s.scene.copy()
    blob = np.zeros((N, N), bool)
    blob[corner[0] : corner[0] + side, corner[1] : corner[1] + side] = True
    scene[:, blob] *= np.float32(0.35)
    valid = np.ones((N, N), bool)
    if nodata:
        valid[55:130, 35:100] = False  # south-east of the blob, towards the sun
    m = spectral_cloud_mask(
        scene, BANDS, valid, s.median, sun_azimuth_deg=SUN_AZIMUTH, pixel_size_m=10.0,
        sun_elevation_deg=75.0, sky=valid,
    )  # fmt: skip
    assert not m.cloud.any()
    assert m.shadow[blob].mean() == (pytest.approx(1.0, abs=0.02) if masked else 0.0)
    assert m.shadow[~blob].mean() <= 0.01
    # without a clear sky to measure the offset over, a dark area is never an orphan shadow
    assert not spectral_cloud_mask(
        scene, BANDS, valid, s.median, sun_azimuth_deg=SUN_AZIMUTH, pixel_size_m=10.0,
        sun_elevation_deg=75.0,
    ).shadow.any()  # fmt: skip


def test_haze_is_cloud_but_a_new_bare_field_is_not() -> None:
    s = _synthetic(4, with_clouds=False)
    scene = s.scene.copy()
    haze = np.zeros((N, N), bool)
    haze[20:80, 20:80] = True
    scene[:, haze] += np.array([0.07, 0.05, 0.035, 0.02, 0.01], np.float32)[:, None]
    field = np.zeros((N, N), bool)
    field[110:170, 30:90] = True  # vegetation cleared to soil: redder, not whiter
    scene[:, field] = np.array([0.09, 0.12, 0.16, 0.23, 0.29], np.float32)[:, None]
    m = spectral_cloud_mask(scene, BANDS, reference_median=s.median)
    assert m.cloud[haze].mean() >= 0.95
    assert m.cloud[field].mean() <= 0.02


@pytest.mark.parametrize("sun", [None, SUN_AZIMUTH])
def test_absolute_test_without_a_median(sun: float | None) -> None:
    s = _synthetic(5)
    m = spectral_cloud_mask(s.scene, BANDS, sun_azimuth_deg=sun, pixel_size_m=10.0)
    recall, precision = _recall_precision(m.cloud, s.cloud_core)
    assert recall >= 0.95
    # without the median the absolute test is coarser; thin edges may be missed
    assert _recall_precision(m.cloud, s.cloud)[0] >= 0.7


def test_snow_is_flagged_not_cloud() -> None:
    s = _synthetic(6, with_clouds=False)
    scene = s.scene.copy()
    scene[:, 10:60, 10:60] = np.array([0.80, 0.78, 0.75, 0.70, 0.12], np.float32)[:, None, None]
    m = spectral_cloud_mask(scene, BANDS, reference_median=s.median)
    assert m.snow[10:60, 10:60].all()
    assert not m.cloud[12:58, 12:58].any()
    assert m.clear[12:58, 12:58].all()


def test_nodata_and_region() -> None:
    s = _synthetic(0)
    scene = s.scene.copy()
    scene[:, :, :20] = np.nan
    region = np.zeros((N, N), bool)
    region[:, : N // 2] = True
    m = spectral_cloud_mask(scene, BANDS, reference_median=s.median, region=region)
    assert not m.valid[:, :20].any() and not m.clear[:, :20].any()
    assert m.clear_fraction == pytest.approx(clear_fraction(m.clear, region))
    assert m.clear_fraction == pytest.approx(m.clear[:, : N // 2].mean())


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((np.zeros((5, 8)), BANDS), {}, "scene has shape"),
        ((np.zeros((5, 8, 8)), BANDS[:3]), {}, "band_names has 3 names"),
        (
            (np.zeros((5, 8, 8)), BANDS),
            {"reference_median": np.zeros((5, 4, 4))},
            "reference_median",
        ),
        ((np.zeros((5, 8, 8)), BANDS), {"valid": np.ones((8, 9), bool)}, "valid has shape"),
        ((np.zeros((5, 8, 8)), BANDS), {"sky": np.ones((9, 8), bool)}, "sky has shape"),
        ((np.zeros((5, 8, 8)), BANDS), {"pixel_size_m": 0.0}, "pixel_size_m is 0.0"),
        ((np.zeros((5, 8, 8)), BANDS), {"reflectance_scale": -1.0}, "reflectance_scale is -1.0"),
    ],
)
def test_spectral_bad_input(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        spectral_cloud_mask(*args, **kwargs)


# ---------------------------------------------------------------------------
# series median


def test_series_median_ignores_invalid_dates_and_chunks() -> None:
    rng = np.random.default_rng(7)
    base = rng.uniform(0.05, 0.3, size=(3, 40, 30)).astype(np.float32)
    stack = np.repeat(base[None], 7, axis=0) + rng.normal(0, 1e-3, (7, 3, 40, 30)).astype(
        np.float32
    )
    valid = np.ones((7, 40, 30), bool)
    stack[:3, :, :, :10] = 0.9  # clouds on 3 of 7 dates: median must ignore them
    valid[:5, :, 10:20] = False  # only 2 valid dates here
    stack[:5, :, :, 10:20] = 5.0
    valid[:, 5, 25] = False  # never valid
    med = series_clear_median(stack, valid, max_chunk_bytes=7 * 3 * 30 * 4 * 3)  # 3-row chunks
    assert med.dtype == np.float32 and med.shape == (3, 40, 30)
    good = np.ones((40, 30), bool)
    good[5, 25] = False
    assert np.abs(med - base)[:, good].max() < 0.01
    assert np.isnan(med[:, 5, 25]).all()
    low = series_clear_median(stack, valid, percentile=25.0)
    assert np.abs(low - base)[:, good].max() < 0.01


@pytest.mark.parametrize(
    ("stack", "valid", "match"),
    [
        (np.zeros((3, 8, 8)), np.ones((3, 8, 8), bool), "stack has shape"),
        (np.zeros((3, 2, 8, 8)), np.ones((2, 8, 8), bool), "valid has shape"),
    ],
)
def test_series_median_bad_input(stack: np.ndarray, valid: np.ndarray, match: str) -> None:
    with pytest.raises(InputError, match=match):
        series_clear_median(stack, valid)


def test_a_new_dark_structure_down_sun_of_a_cloud_beyond_its_layer_is_not_shadow() -> None:
    s = _synthetic(0)
    az = np.deg2rad(SUN_AZIMUTH)
    uy, ux = np.cos(az), -np.sin(az)
    # where the clouds' shadows fall (their layer), and farther down-sun of them
    layer = np.zeros((N, N), bool)
    beyond = np.zeros((N, N), bool)
    for k in range(1, 4 * SHADOW_DIST_PX):
        moved = ndi.shift(s.cloud.astype(float), (k * uy, k * ux), order=0) > 0
        (layer if 0.7 * SHADOW_DIST_PX <= k <= 1.3 * SHADOW_DIST_PX else beyond)[moved] = True
    free = beyond & ~layer & ~s.cloud & ~s.shadow
    # a 12 x 12 block entirely in that free ground
    ok = ndi.minimum_filter(free.astype(np.uint8), size=12, mode="constant") > 0
    y, x = np.argwhere(ok)[len(np.argwhere(ok)) // 2]
    patch = np.zeros((N, N), bool)
    patch[y - 6 : y + 6, x - 6 : x + 6] = True
    scene = np.where(patch, s.scene * 0.4, s.scene).astype(np.float32)
    m = spectral_cloud_mask(
        scene, BANDS, reference_median=s.median, sun_azimuth_deg=SUN_AZIMUTH, pixel_size_m=10.0
    )
    assert not m.shadow[patch].any()
    assert _recall_precision(m.shadow, s.shadow)[0] >= 0.85


@pytest.mark.parametrize("percentile", [0.0, 35.0, 50.0, 100.0])
def test_series_median_matches_numpy_ignoring_masked_dates(percentile: float) -> None:
    rng = np.random.default_rng(3)
    stack = rng.random((7, 2, 9, 11)).astype(np.float32)
    valid = rng.random((7, 9, 11)) > 0.4
    valid[:, 0, 0] = False  # never valid: NaN
    got = series_clear_median(
        stack, valid, percentile=percentile, cloud_brightening=None, max_chunk_bytes=7 * 2 * 11 * 4
    )
    masked = np.where(valid[:, None], stack, np.nan)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = np.nanpercentile(masked, percentile, axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)
    assert np.isnan(got[:, 0, 0]).all()


def _series(n_dates: int, ground: float = 0.12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    stack = ground + rng.normal(0, 0.003, (n_dates, 4, 6, 8)).astype(np.float32)
    return stack.astype(np.float32), np.ones((n_dates, 6, 8), bool)


@pytest.mark.parametrize("ground", [0.05, 0.12, 0.3])
def test_series_median_finds_the_ground_under_clouds_on_most_dates(ground: float) -> None:
    stack, valid = _series(10, ground)
    stack[:7, :, :, :4] = 0.6  # thick cloud on 7 of 10 dates over the west half
    med = series_clear_median(stack, valid)
    np.testing.assert_allclose(med, ground, atol=0.01)
    plain = series_clear_median(stack, valid, cloud_brightening=None)
    assert np.all(plain[:, :, :4] > 0.5)


def test_series_median_is_not_pulled_into_frequent_shadows() -> None:
    stack, valid = _series(10)
    stack[:4] *= np.float32(0.45)  # cloud shadow on 4 of 10 dates: the darker quarter
    stack[4:6] = 0.6  # and thick cloud on 2
    med = series_clear_median(stack, valid)
    np.testing.assert_allclose(med, 0.12, atol=0.01)


def test_series_median_bad_cloud_brightening() -> None:
    stack, valid = _series(3)
    with pytest.raises(InputError, match="cloud_brightening is -0.1"):
        series_clear_median(stack, valid, cloud_brightening=-0.1)


@pytest.mark.parametrize(("row", "kept"), [(0, True), (40, False)])
def test_a_small_cloud_cut_by_the_edge_of_the_data_is_kept(row: int, kept: bool) -> None:
    s = _synthetic(0, with_clouds=False)
    scene = s.scene.copy()
    # a 4 x 4 px white cloud: under the 20 px minimum unless it touches the grid's edge
    scene[:, row : row + 4, 60:64] = np.array([0.5, 0.5, 0.5, 0.5, 0.4])[:, None, None]
    m = spectral_cloud_mask(scene, BANDS, reference_median=s.median, pixel_size_m=10.0)
    assert m.cloud[row : row + 4, 60:64].all() == kept
    assert not m.cloud[100:].any()


@pytest.mark.parametrize("seed", [0, 1])
def test_a_mostly_cloudy_scene_is_measured_against_its_clear_sky(seed: int) -> None:
    s = _synthetic(seed, cloud_share=0.75)
    truth_clear = ~(s.cloud | s.shadow)
    kw = {"reference_median": s.median, "sun_azimuth_deg": SUN_AZIMUTH, "pixel_size_m": 10.0}
    plain = spectral_cloud_mask(s.scene, BANDS, **kw)
    m = spectral_cloud_mask(s.scene, BANDS, sky=truth_clear, **kw)
    # over every pixel, the cloud's brightening is taken for the scene's offset: no cloud left
    assert plain.cloud[s.cloud].mean() < 0.01
    # against the clear sky's level the thick cloud stands out again (its thin rim, judged
    # by a spread that the cloud inflates, is left to the overcast test)
    assert m.cloud[s.cloud_core].mean() >= 0.3 and m.cloud[s.cloud].mean() >= 0.25
    assert m.clear[truth_clear].mean() >= 0.99
    # too few clear pixels to measure anything on: the scene's own pixels are used
    few = np.zeros_like(truth_clear)
    few[:10, :10] = True
    assert np.array_equal(spectral_cloud_mask(s.scene, BANDS, sky=few, **kw).clear, plain.clear)
