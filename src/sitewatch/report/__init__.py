"""The analyst's report: site map, activity timeline and evidence cards in one HTML file.

:func:`render_report` turns a :class:`ReportInputs` into a
:class:`RenderedReport` (the HTML text and the chips' PNG bytes) without
touching files; :func:`sitewatch.io.report_io.write_report` writes it.
"""

from __future__ import annotations

from .html import DEFAULT_MAX_CARDS, RenderedReport, render_report, select_card_events
from .inputs import ImageSeries, RadarSeries, ReportInputs, SceneRecord

__all__ = [
    "DEFAULT_MAX_CARDS",
    "ImageSeries",
    "RadarSeries",
    "RenderedReport",
    "ReportInputs",
    "SceneRecord",
    "render_report",
    "select_card_events",
]
