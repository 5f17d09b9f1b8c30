"""Remove radiometric shifts shared by every patch of one surface material.

After the global (IR-MAD) and smooth (:mod:`.background`) normalisations, a
date can still shift one *kind* of surface against the rest of the scene:
concrete pads and roofs brighten less than the soil around them when the soil
dries, a forest greens up later than the grass.  Each patch of that material
then reads as a small, coherent change, and at several places at once.  A
construction change is local: one pad among several, one roof.

So the reference's pixels are grouped into spectral classes, and each class
that is spread over the site (several separate patches) has its robust shift
(the median of ``scene - reference`` over its pixels, minus the scene's)
removed.  A change that covers less than half of a class does not move its
median, so it is kept; a material found in one patch only is left alone, since
its shift cannot be told from a change of that patch.  Pure numpy/scipy.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage as ndi
from scipy.cluster.vq import kmeans2, vq

__all__ = ["material_shift"]

#: spectral classes of the reference
N_CLASSES = 8
#: separate patches of a class needed before its shift counts as the material's
MIN_PATCHES = 3
#: pixels a patch needs to count (smaller ones are mixed edge pixels)
MIN_PATCH_PX = 12
_SAMPLE = 20_000
_MEDIAN_SAMPLE = 100_000
_SEED = 0


def material_shift(scene: np.ndarray, reference: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-pixel shift of each spread-out material class, to subtract from ``scene``.

    Parameters
    ----------
    scene, reference
        ``(bands, h, w)`` reflectance on one grid.
    valid
        ``(h, w)`` bool: pixels where both are usable; only they are classified
        and corrected.

    Returns
    -------
    numpy.ndarray
        ``(bands, h, w)`` float32, zero outside ``valid`` and in classes that are
        not spread over several patches.
    """
    nb, h, w = scene.shape
    n = int(valid.sum())
    if n < N_CLASSES * MIN_PATCHES * MIN_PATCH_PX:
        return np.zeros((nb, h, w), np.float32)
    ref = np.ascontiguousarray(reference[:, valid].T, dtype=np.float32)  # (n, bands)
    rng = np.random.default_rng(_SEED)
    with warnings.catch_warnings():
        # an empty class is harmless here: it simply corrects nothing
        warnings.simplefilter("ignore", UserWarning)
        centres, _ = kmeans2(
            ref[rng.choice(n, min(n, _SAMPLE), replace=False)].astype(np.float64),
            N_CLASSES, minit="++", seed=_SEED,
        )  # fmt: skip
    cls, _ = vq(ref, centres.astype(np.float32), check_finite=False)
    # the shifts are medians: a large sample fixes them to well under the noise
    pick = rng.choice(n, min(n, _MEDIAN_SAMPLE), replace=False)
    at = np.flatnonzero(valid)[pick]
    diff = (scene.reshape(nb, -1)[:, at] - ref[pick].T).astype(np.float32)
    picked = cls[pick]
    overall = np.median(diff, axis=1)
    # row N_CLASSES of the table is the shift of pixels outside ``valid``: none
    label = np.full((h, w), N_CLASSES, np.intp)
    label[valid] = cls
    table = np.zeros((N_CLASSES + 1, nb), np.float32)
    for c in range(N_CLASSES):
        members = picked == c
        if not members.any():
            continue
        patches, _ = ndi.label(label == c)
        sizes = np.bincount(patches.ravel())[1:]
        if int((sizes >= MIN_PATCH_PX).sum()) < MIN_PATCHES:
            continue
        table[c] = (np.median(diff[:, members], axis=1) - overall).astype(np.float32)
    return np.ascontiguousarray(np.moveaxis(table[label], -1, 0))
