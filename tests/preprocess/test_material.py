"""Shifts shared by every patch of one material (``sitewatch.preprocess.material``)."""

from __future__ import annotations

import numpy as np
import pytest

from sitewatch.preprocess.material import MIN_PATCHES, material_shift

SOIL = np.array([0.10, 0.13, 0.15, 0.22], np.float32)
CONCRETE = np.array([0.20, 0.21, 0.21, 0.26], np.float32)
ROOF = np.array([0.05, 0.09, 0.16, 0.18], np.float32)  # a material found once


def _scene(n_pads: int, seed: int = 0) -> tuple[np.ndarray, list[tuple[slice, slice]]]:
    """Soil with ``n_pads`` separate 12 x 12 px concrete pads and one roof."""
    rng = np.random.default_rng(seed)
    h = w = 128
    ref = SOIL[:, None, None] + rng.normal(0, 0.008, (4, h, w)).astype(np.float32)
    pads = [(slice(10 + 40 * (i // 3), 22 + 40 * (i // 3)),
             slice(10 + 40 * (i % 3), 22 + 40 * (i % 3))) for i in range(n_pads)]  # fmt: skip
    for sl in pads:
        ref[(slice(None), *sl)] = CONCRETE[:, None, None]
    ref[:, 100:120, 100:120] = ROOF[:, None, None]
    ref += rng.normal(0, 0.004, ref.shape).astype(np.float32)
    return ref, pads


def test_a_shift_of_every_pad_is_removed() -> None:
    ref, pads = _scene(5)
    rng = np.random.default_rng(1)
    scene = ref + rng.normal(0, 0.008, ref.shape).astype(np.float32)
    for sl in pads:  # the soil dried, the concrete did not: relative to the scene, pads darken
        scene[(slice(None), *sl)] -= np.array([0.004, 0.002, 0.003, 0.0], np.float32)[:, None, None]
    valid = np.ones(ref.shape[1:], bool)
    shift = material_shift(scene, ref, valid)
    on_pads = np.concatenate([shift[(slice(None), *sl)].reshape(4, -1) for sl in pads], axis=1)
    assert np.median(on_pads, axis=1) == pytest.approx([-0.004, -0.002, -0.003, 0.0], abs=0.0015)
    assert np.abs(shift[:, 60:90, 0:8]).max() < 0.001  # soil keeps its (scene-wide) level


def test_a_change_at_one_pad_of_five_is_kept() -> None:
    ref, pads = _scene(5)
    scene = ref.copy()
    scene[(slice(None), *pads[2])] += 0.08  # resurfaced
    shift = material_shift(scene, ref, np.ones(ref.shape[1:], bool))
    resid = scene - shift - ref
    assert resid[(slice(None), *pads[2])].mean() > 0.07
    assert np.abs(resid[(slice(None), *pads[0])]).mean() < 0.005


@pytest.mark.parametrize("n_pads", [1, MIN_PATCHES - 1])
def test_a_material_in_too_few_patches_is_left_alone(n_pads: int) -> None:
    ref, pads = _scene(n_pads)
    scene = ref.copy()
    for sl in pads:
        scene[(slice(None), *sl)] += 0.03
    scene[:, 100:120, 100:120] -= 0.03  # the single roof
    shift = material_shift(scene, ref, np.ones(ref.shape[1:], bool))
    assert not shift[(slice(None), *pads[0])].any()
    assert not shift[:, 100:120, 100:120].any()


def test_outside_valid_and_too_few_pixels_give_zeros() -> None:
    ref, pads = _scene(5)
    scene = ref - 0.01
    valid = np.ones(ref.shape[1:], bool)
    valid[:, :64] = False
    shift = material_shift(scene, ref, valid)
    assert not shift[:, :, :64].any()
    few = np.zeros_like(valid)
    few[:5, :5] = True
    assert not material_shift(scene, ref, few).any()
