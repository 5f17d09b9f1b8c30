"""Fixtures: a 600 m site with two zones, four dates and three events (see reportkit)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from reportkit import build_inputs, site_and_grid

from sitewatch.models import Event, Site, SiteGrid
from sitewatch.report import ReportInputs


@pytest.fixture
def grid_and_site() -> tuple[SiteGrid, Site]:
    return site_and_grid()


@pytest.fixture
def make_inputs() -> Callable[..., ReportInputs]:
    """``make(events=None, zones=True)``: see :func:`reportkit.build_inputs`."""

    def make(events: list[Event] | None = None, zones: bool = True) -> ReportInputs:
        return build_inputs(events, zones)

    return make
