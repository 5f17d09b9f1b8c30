"""The default optical method: detection, calibration, tiling, real-data quality."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from sitewatch.change.auto import AutoOpticalMethod
from sitewatch.change.base import PairSample
from sitewatch.change.clean import clean_decision
from sitewatch.change.registry import get_method
from sitewatch.errors import NoValidDataError
from sitewatch.io.bands import COMMON_NAMES

DATA = Path(__file__).parents[2] / ".." / "shared" / "data" / "change"


def _scene(
    seed: int, shape: tuple[int, int] = (160, 160)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spatially smooth 4-band scene seen twice with a gain, an offset and noise."""
    rng = np.random.default_rng(seed)
    base = ndi.gaussian_filter(rng.normal(size=(4, *shape)), sigma=(0, 3, 3)) * 20 + 100
    before = base + rng.normal(size=base.shape)
    after = 1.3 * base + 5 + rng.normal(size=base.shape)
    return before.astype(np.float32), after.astype(np.float32), np.ones(shape, bool)


def _decide(
    method: AutoOpticalMethod,
    b: np.ndarray,
    a: np.ndarray,
    v: np.ndarray,
    px: float | None,
    names: tuple[str, ...] = (),
) -> np.ndarray:
    p = method.fit(PairSample([b], [a], [v], px, names)).score(b, a, v).p_value
    cd = method.cleanup(px)
    return clean_decision(p < 0.01, v, radius_px=cd.radius_px, min_area_px=cd.min_area_px)


@pytest.mark.parametrize("px", [None, 2.0, 10.0])
def test_implanted_blob_is_found(px: float | None) -> None:
    b, a, v = _scene(0)
    a[:, 60:90, 40:80] += 25.0
    dec = _decide(AutoOpticalMethod(), b, a, v, px)
    patch = np.zeros(v.shape, bool)
    patch[60:90, 40:80] = True
    assert dec[patch].mean() > 0.8
    assert dec[~patch].mean() < 0.02


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_change_gives_few_alarms(seed: int) -> None:
    b, a, v = _scene(seed)
    p = AutoOpticalMethod().fit(PairSample([b], [a], [v])).score(b, a, v).p_value
    # the intersection test over scales is conservative: at most alpha
    assert float(np.mean(p < 0.01)) <= 0.015
    assert _decide(AutoOpticalMethod(), b, a, v, None).mean() < 0.005


def test_boxes_cut_by_an_edge_are_not_more_significant() -> None:
    # no change; the west is outside the data and the other sides are the image's border
    gaps = []
    for seed in range(3):
        b, a, v = _scene(seed)
        v[:, :40] = False
        z = AutoOpticalMethod(radii_px=(2, 4)).fit(PairSample([b], [a], [v])).score(b, a, v)
        frame = np.zeros(v.shape, bool)
        frame[:2, 40:] = frame[-2:, 40:] = frame[:, -2:] = frame[:, 40:42] = True
        inner = np.zeros(v.shape, bool)
        inner[10:-10, 50:-10] = True
        stat = z.statistic
        gaps.append(np.percentile(stat[frame], 99) - np.percentile(stat[inner], 99))
    # a box cut to half its pixels used to score over one sd higher at the edges
    assert float(np.mean(gaps)) < 0.5


@pytest.mark.parametrize("names", [(), ("red", "green", "blue", "nir")])
def test_tiles_with_halo_match_whole_image(names: tuple[str, ...]) -> None:
    b, a, v = _scene(4, (150, 170))
    a[:, 30:60, 100:140] += 20.0
    v[0:5, :] = False
    fitted = AutoOpticalMethod().fit(PairSample([b], [a], [v], band_names=names))
    assert (fitted.surface is not None) == bool(names)  # RGB in pixel space: surface test on
    whole = fitted.score(b, a, v).p_value
    h = fitted.halo
    y0, y1, x0, x1 = 50, 100, 60, 120
    tile = fitted.score(
        b[:, y0 - h : y1 + h, x0 - h : x1 + h],
        a[:, y0 - h : y1 + h, x0 - h : x1 + h],
        v[y0 - h : y1 + h, x0 - h : x1 + h],
    ).p_value[h:-h, h:-h]
    np.testing.assert_allclose(tile, whole[y0:y1, x0:x1], rtol=1e-4, atol=1e-7)
    assert np.all(np.isnan(whole[0:5]))


@pytest.mark.parametrize(
    ("px", "expected"),
    [
        (None, (1, 2, 4)),
        (10.0, (1, 2, 4)),
        (30.0, (1,)),
        (10.4, (1, 2, 4)),
        (20.0, (1, 2)),
        (1.5, (3, 6, 12)),
        (0.5, (10, 20, 40)),
    ],
)
def test_window_radii_follow_ground_distance(px: float | None, expected: tuple[int, ...]) -> None:
    m = AutoOpticalMethod()
    assert m.pixel_radii(px) == expected
    assert m.cleanup(px).min_area_px == (2 * expected[0] + 1) ** 2


def test_seed_test_is_stricter_valid_and_local() -> None:
    from sitewatch.change.stats import neighbourhood_seed_pvalue

    rng = np.random.default_rng(11)
    p = rng.uniform(size=(60, 70)).astype(np.float32)
    p[10, 10] = np.nan
    # a lone pixel just under alpha has no seed: 9 * p > alpha
    p[30, 30] = 0.005
    # a pixel next to a strong core keeps its own p-value
    p[40, 40], p[40, 41] = 1e-6, 0.004
    q = neighbourhood_seed_pvalue(p, 1)
    assert np.isnan(q[10, 10])
    ok = ~np.isnan(p)
    assert np.all(q[ok] >= p[ok])
    assert q[30, 30] >= 0.01
    assert q[40, 41] == pytest.approx(0.004)
    assert q[40, 40] == pytest.approx(9e-6)
    # pure noise: the seed test keeps the false-alarm rate at or under alpha
    assert float(np.mean(neighbourhood_seed_pvalue(rng.uniform(size=(200, 200)), 2) < 0.01)) < 0.01
    # local: a crop with a halo of the radius gives the same values inside
    np.testing.assert_array_equal(
        neighbourhood_seed_pvalue(p[20:50, 20:50], 1)[1:-1, 1:-1], q[21:49, 21:49]
    )
    np.testing.assert_array_equal(neighbourhood_seed_pvalue(p, 0), p)


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (5, 1), (2, 3), (41, 57)])
def test_3x3_seed_kernel_equals_the_general_simes_bit_for_bit(shape: tuple[int, int]) -> None:
    from sitewatch.change.stats import _seed_3x3, _simes_box

    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    p = rng.uniform(size=shape).astype(np.float32)
    for value, share in ((np.nan, 0.1), (1e-5, 0.1), (0.0, 0.05), (1.0, 0.05), (0.3, 0.2)):
        p[rng.uniform(size=shape) < share] = value  # not judged, seeds, bounds and ties
    expected = np.maximum(p, _simes_box(p, 1))
    np.testing.assert_array_equal(_seed_3x3(p).view(np.int32), expected.view(np.int32))


@pytest.mark.parametrize("columns", [1, 7, 1 << 20])
def test_chunked_projection_equals_tensordot(monkeypatch, columns: int) -> None:
    from sitewatch.change import auto

    monkeypatch.setattr(auto, "_PROJECT_COLUMNS", columns)
    rng = np.random.default_rng(columns)
    x = (rng.uniform(size=(4, 9, 11)) * 3000).astype(np.float32)
    coef = (rng.normal(size=(4, 3)) / 1000).astype(np.float32)
    expected = np.tensordot(coef.T, x, axes=1)
    got = auto._project(coef, x)
    assert got.shape == (3, 9, 11)
    np.testing.assert_array_equal(got, expected)


def test_fit_does_not_depend_on_its_thread_count(monkeypatch) -> None:
    from sitewatch.change import auto

    blocks = [_scene(s, (48, 40)) for s in (21, 22, 23)]
    sample = PairSample(
        [b for b, _, _ in blocks], [a for _, a, _ in blocks], [v for *_, v in blocks]
    )
    fits = []
    for threads in (1, 3):
        monkeypatch.setattr(auto, "_FIT_THREADS", threads)
        fits.append(AutoOpticalMethod().fit(sample))
    assert fits[0].nulls == fits[1].nulls
    np.testing.assert_array_equal(fits[0].transform.a, fits[1].transform.a)


@pytest.mark.parametrize(
    ("names", "px", "radius"),
    [
        (("blue", "green", "red", "nir"), 10.0, None),  # Sentinel-2 and OSCD: untouched
        (("blue", "green", "red", "nir", "swir16", "swir22"), 30.0, None),
        (("red", "green", "blue"), 3.0, None),
        (("band1", "band2", "band3"), None, None),
        (("red", "green", "blue"), None, 4),
        (("blue", "green", "red", "nir"), 0.5, 4),
        (("red", "green", "blue"), 2.0, 1),
    ],
)
def test_surface_test_only_on_vhr_rgb(
    names: tuple[str, ...], px: float | None, radius: int | None
) -> None:
    scenes = [_scene(s, (64, 64)) for s in (5, 6)]
    b, a = (np.concatenate([sc[i] for sc in scenes])[: len(names)] for i in (0, 1))
    v = scenes[0][2]
    method = AutoOpticalMethod()
    fitted = method.fit(PairSample([b], [a], [v], px, names))
    if radius is None:
        assert fitted.surface is None and fitted.grow_radius == 0
        assert fitted.halo == max(method.pixel_radii(px)) + 2
    else:
        assert fitted.surface is not None and fitted.surface.radius == radius
        # declared regions grow by the surface window's radius, so the halo holds it twice
        assert fitted.grow_radius == radius
        assert fitted.halo >= 2 * radius + 2


def test_registry_default_is_optical_auto() -> None:
    m = get_method("auto")
    assert isinstance(m, AutoOpticalMethod)
    assert m.sensor == "optical"


def test_no_valid_pixels_raises() -> None:
    b, a, v = _scene(5, (40, 40))
    with pytest.raises(NoValidDataError, match="valid pixels"):
        AutoOpticalMethod().fit(PairSample([b], [a], [np.zeros_like(v)]))


def test_identical_images_raise() -> None:
    b, _a, v = _scene(6, (40, 40))
    with pytest.raises(NoValidDataError):
        AutoOpticalMethod().fit(PairSample([b], [b.copy()], [v]))


# ---------------------------------------------------------------------------
# real pairs


def _read(path: Path) -> np.ndarray:
    rasterio = pytest.importorskip("rasterio")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PNGs carry no georeferencing
        with rasterio.open(path) as src:
            return np.asarray(src.read())


def _f1_kappa(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    m = truth != 255
    p, t = pred[m], truth[m] == 1
    if not t.any():  # a pair without change: right only if nothing is predicted
        ok = float(not p.any())
        return ok, ok
    tp, fp, fn = np.sum(p & t), np.sum(p & ~t), np.sum(~p & t)
    tn = p.size - tp - fp - fn
    n = p.size
    po = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / n / n
    return float(2 * tp / (2 * tp + fp + fn)), float((po - pe) / (1 - pe))


# measured means (this method, alpha 0.01, default clean-up) minus a margin
FLOORS = {"oscd": 0.34, "sztaki": 0.37, "landsat": 0.92, "levir": 0.38}


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(FLOORS))
def test_real_pairs_mean_f1_above_floor(dataset: str) -> None:
    folder = DATA / dataset
    if not folder.is_dir():
        pytest.skip(f"evaluation data not found at {folder}")
    method = AutoOpticalMethod()
    f1s = []
    for pair in sorted(p for p in folder.iterdir() if p.is_dir()):
        meta = json.loads((pair / "meta.json").read_text())
        ext = "tif" if (pair / "before.tif").exists() else "png"
        b = _read(pair / f"before.{ext}").astype(np.float32)
        a = _read(pair / f"after.{ext}").astype(np.float32)
        truth = _read(pair / "truth.png")[0]
        v = np.ones(truth.shape, bool)
        # as `sitewatch change` reads them: plain PNGs are in pixel space, and only
        # common band names are names (the VHR surface test needs red, green, blue)
        px = meta["resolution_m"] if meta.get("georeferenced") else None
        names = tuple(meta["bands"]) if set(meta["bands"]) <= set(COMMON_NAMES) else ()
        dec = _decide(method, b, a, v, px, names)
        f1s.append(_f1_kappa(dec, truth)[0])
    assert float(np.mean(f1s)) >= FLOORS[dataset]


@pytest.mark.parametrize("shape", [(3, 1, 1), (3, 1, 6), (4, 6, 1), (4, 9, 11)])
def test_misregistration_kernel_matches_reference(shape: tuple[int, int, int]) -> None:
    from sitewatch.change.auto import _shift_min_both

    rng = np.random.default_rng(7)
    pb = rng.normal(size=shape).astype(np.float32)
    pa = rng.normal(size=shape).astype(np.float32)
    h, w = shape[1:]

    def one_way(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        pp = np.pad(p, ((0, 0), (1, 1), (1, 1)), mode="edge")
        return np.min(
            [
                ((pp[:, dy : dy + h, dx : dx + w] - q) ** 2).sum(0)
                for dy in range(3)
                for dx in range(3)
            ],
            axis=0,
        )

    expected = np.maximum(one_way(pb, pa), one_way(pa, pb))
    np.testing.assert_allclose(_shift_min_both(pb, pa), expected, rtol=1e-5)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (6, 1), (37, 53)])
@pytest.mark.parametrize("r", [1, 2, 5])
def test_masked_local_mean_matches_stats_local_mean(shape: tuple[int, int], r: int) -> None:
    from sitewatch.change.auto import _local_mean
    from sitewatch.change.stats import box_mean, box_weight, local_mean

    rng = np.random.default_rng(r)
    x = (rng.normal(size=shape) * 10 + 100).astype(np.float32)
    v = rng.uniform(size=shape) > 0.3
    w = None if v.all() else box_mean(v.astype(np.float32), r)
    np.testing.assert_allclose(
        _local_mean(x, v, r, w), local_mean(x, v, r, box_weight(v, r)), rtol=1e-5
    )


def test_one_pixel_shift_is_not_change() -> None:
    # an edge moved by one pixel (misregistration) must not be flagged
    b, _a, v = _scene(8)
    b[:, :, 80:] += 30.0
    a = np.roll(b, 1, axis=2)
    a[:, :, 0] = b[:, :, 0]
    a = a + np.random.default_rng(9).normal(size=a.shape).astype(np.float32)
    dec = _decide(AutoOpticalMethod(), b, a.astype(np.float32), v, None)
    assert dec.mean() < 0.005


def test_vhr_growth_extends_a_significant_region_only() -> None:
    from sitewatch.change.stats import grow_pvalue

    b, a, v = _scene(12, (96, 96))
    names = ("red", "green", "blue", "nir")
    a[:, 30:60, 30:60] += 25.0
    sample = PairSample([b], [a], [v], None, names)
    fitted = AutoOpticalMethod().fit(sample)
    assert fitted.grow_radius > 0
    grown = fitted.score(b, a, v).p_value
    plain = dataclasses.replace(fitted, grow_radius=0).score(b, a, v).p_value
    np.testing.assert_array_equal(grown, grow_pvalue(plain, fitted.grow_radius, 10.0))
    assert np.all(grown <= plain)
    # growth adds no region: every declared component holds a pixel declared without it
    labels, n = ndi.label(grown < 0.01, np.ones((3, 3), bool))
    assert n >= 1
    assert all((plain[labels == k] < 0.01).any() for k in range(1, n + 1))
