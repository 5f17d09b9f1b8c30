"""Smooth scene-minus-reference field (``sitewatch.preprocess.background``)."""

from __future__ import annotations

import numpy as np

from sitewatch.preprocess.background import block_px_for, smooth_difference


def test_block_size() -> None:
    assert block_px_for(10.0) == 10
    assert block_px_for(3.0) == 33
    assert block_px_for(50.0) == 8
    assert block_px_for(None) == 32


def test_gradient_removed_small_change_kept() -> None:
    rng = np.random.default_rng(0)
    h = w = 96
    ref = rng.normal(0.2, 0.01, (2, h, w)).astype(np.float32)
    ramp = np.linspace(0.0, 0.05, w, dtype=np.float32)[None, None, :]
    scene = ref + ramp + rng.normal(0, 0.002, (2, h, w)).astype(np.float32)
    scene[:, 40:46, 40:46] += 0.2  # a small new structure
    valid = np.ones((h, w), bool)
    valid[:10] = False
    bg = smooth_difference(scene, ref, valid, 16)
    resid = scene - bg - ref
    assert np.abs(resid[:, 60:, :]).mean() < 0.006  # the ramp is gone
    assert resid[:, 40:46, 40:46].mean() > 0.18  # the structure is not


def test_nothing_valid_gives_zeros() -> None:
    a = np.ones((1, 8, 8), np.float32)
    assert not smooth_difference(a, a, np.zeros((8, 8), bool), 4).any()


def test_a_corner_block_keeps_its_local_level() -> None:
    # a veil that thickens towards the top-left; only a corner of the top-left block
    # is covered (the scene's edge), too little for the old quarter rule
    h = w = 96
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    veil = 0.04 * np.clip(1.0 - (yy + xx) / 96.0, 0.0, None)
    rng = np.random.default_rng(1)
    ref = rng.normal(0.2, 0.01, (1, h, w)).astype(np.float32)
    scene = ref + veil[None] + rng.normal(0, 0.002, (1, h, w)).astype(np.float32)
    valid = np.ones((h, w), bool)
    valid[:20, :] = False
    valid[:, :20] = False
    bg = smooth_difference(scene, ref, valid, 32)
    resid = (scene - bg - ref)[0]
    assert np.abs(resid[20:32, 20:32]).mean() < 0.006
    assert np.abs(resid[valid]).mean() < 0.004
