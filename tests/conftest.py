"""Shared fixtures: tiny rasters in ``tmp_path``; registers the ``test-diff`` method.

Helpers live in ``rasterkit.py`` (importable from any test module, since this
folder is on ``sys.path`` once this conftest is loaded).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rasterkit import TEST_METHOD, PairFiles, make_pair, write_tif

from sitewatch.change.registry import get_method


@pytest.fixture(scope="session", autouse=True)
def _test_method_registered() -> None:
    """Fail loudly if something replaced the test method in the registry."""
    assert get_method("test-diff") is TEST_METHOD


@pytest.fixture
def tif_writer() -> Callable[..., Path]:
    """The :func:`rasterkit.write_tif` helper, for tests that prefer a fixture."""
    return write_tif


@pytest.fixture
def pair(tmp_path: Path) -> PairFiles:
    """A 96 x 96, 3-band uint16 UTM pair with a 20 x 24 px change."""
    return make_pair(tmp_path / "in")


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """An empty output folder (tests check that failed runs leave it empty)."""
    d = tmp_path / "out"
    d.mkdir()
    return d
