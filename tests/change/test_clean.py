import numpy as np
import pytest

from sitewatch.change.clean import clean_decision


def _blobs() -> np.ndarray:
    d = np.zeros((40, 40), bool)
    d[5:15, 5:15] = True  # 100 px
    d[30, 30] = True  # 1 px speckle
    d[20:22, 0:3] = True  # 6 px touching the left edge
    return d


@pytest.mark.parametrize(("min_area", "expected"), [(0, 107), (2, 106), (7, 100), (101, 0)])
def test_min_area_drops_small_regions(min_area: int, expected: int) -> None:
    out = clean_decision(_blobs(), np.ones((40, 40), bool), min_area_px=min_area)
    assert out.sum() == expected


def test_open_edge_keeps_regions_that_continue_beyond_the_array() -> None:
    valid = np.ones((40, 40), bool)
    closed = clean_decision(_blobs(), valid, min_area_px=7)
    opened = clean_decision(_blobs(), valid, min_area_px=7, open_edges=(False, False, True, False))
    assert not closed[20:22, 0:3].any()
    assert opened[20:22, 0:3].all()
    assert not opened[30, 30]


def test_invalid_pixels_are_never_change() -> None:
    valid = np.ones((40, 40), bool)
    valid[5:10, 5:15] = False
    out = clean_decision(_blobs(), valid)
    assert not out[~valid].any()
    assert out[10:15, 5:15].all()


def test_radius_removes_thin_lines_and_fills_pinholes() -> None:
    d = np.zeros((30, 30), bool)
    d[:, 3] = True  # one-pixel line: opening removes it
    d[10:25, 10:25] = True
    d[17, 17] = False  # pinhole: closing fills it
    out = clean_decision(d, np.ones_like(d), radius_px=1)
    assert not out[:, 3].any()
    assert out[17, 17]
    assert out[12:23, 12:23].all()
