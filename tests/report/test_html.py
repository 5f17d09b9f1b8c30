from __future__ import annotations

import dataclasses
import io
import re

import matplotlib.image
import numpy as np
import pytest
from reportkit import DATES, build_inputs, site_and_grid, square_event

from sitewatch.errors import InputError
from sitewatch.models import IndicatorResult
from sitewatch.report import html as report_html
from sitewatch.report import render_report, select_card_events
from sitewatch.report.figures import png_bytes
from sitewatch.report.inputs import ImageSeries


@pytest.fixture(autouse=True)
def _stub_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """The page, not the figures (tests/report/test_figures.py), is tested here: stub them."""
    tiny = png_bytes(np.zeros((2, 3, 3), np.uint8))
    monkeypatch.setattr(report_html, "site_map_png", lambda *a, **k: tiny)
    monkeypatch.setattr(report_html, "timeline_png", lambda *a, **k: tiny)


def _indicator(evidence: tuple[str, ...], triggered: bool = True) -> IndicatorResult:
    return IndicatorResult("i", None, "changed_area", 1.0, 0.5, triggered, "high", evidence)


def test_select_card_events_ranks_cited_then_score_and_caps() -> None:
    grid, _ = site_and_grid()
    events = [
        square_event("e1", (0, 0), 2, grid, score=0.9),
        square_event("e2", (5, 5), 2, grid, score=0.5),
        square_event("e3", (9, 9), 2, grid, score=0.99, kind="transient"),
        square_event("e4", (20, 20), 2, grid, score=0.95, confirmed=False),
        square_event("e5", (30, 30), 2, grid, score=0.7),
    ]
    picked = select_card_events(events, [_indicator(("e2",))], max_cards=3)
    assert [e.event_id for e in picked] == ["e2", "e1", "e5"]
    # evidence of an indicator that did not trigger does not count
    picked = select_card_events(events, [_indicator(("e2",), triggered=False)], max_cards=10)
    assert [e.event_id for e in picked] == ["e1", "e5", "e2"]


def test_select_card_events_falls_back_to_top_scores() -> None:
    grid, _ = site_and_grid()
    events = [
        square_event("e1", (0, 0), 2, grid, score=0.4, kind="transient"),
        square_event("e2", (5, 5), 2, grid, score=0.6, confirmed=False),
    ]
    assert [e.event_id for e in select_card_events(events, [], 5)] == ["e2", "e1"]
    with pytest.raises(InputError, match="max_cards: -1"):
        select_card_events(events, [], -1)


def test_report_is_self_contained_and_cites_the_assessment() -> None:
    report = render_report(build_inputs())
    html = report.html
    assert report.card_ids == ("e0001", "e0002")
    assert sorted(report.chips) == [
        "e0001_after.png", "e0001_before.png", "e0002_after.png", "e0002_before.png",
    ]  # fmt: skip
    # nothing fetched from anywhere: no scripts, stylesheets or remote URLs
    assert not re.search(r"<script|<link|@import|url\(|https?://", html, re.IGNORECASE)
    srcs = re.findall(r'src="([^"]*)"', html)
    assert len(srcs) == 2 + 4 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert 'width="3" height="2"' in html  # figure sizes read from the PNGs
    assert 'class="status status-high"' in html and '<b id="score">0.82</b>' in html
    assert "900 m2 of new structures at the pad" in html
    assert "Second &lt;paragraph&gt; &amp; more." in html  # summary text is escaped
    assert '<a href="#card-e0001">e0001</a>' in html
    assert "not measured" in html and "0.0%" in html  # false-alarm rates
    assert 'id="card-e0001"' in html and 'id="card-e0003"' not in html  # transient: no card
    assert "Summit" not in html  # context events are drawn in the figure, not the text
    assert "site-wide indicators only" not in html


def test_card_cites_dates_clear_fraction_and_alignment() -> None:
    html = render_report(build_inputs()).html
    card = html[html.index('id="card-e0001"') : html.index('id="card-e0002"')]
    assert "<b>before</b> 2019-02-11 &middot; scene S2_20190211" in card
    assert "<b>after</b> 2019-02-21 &middot; scene S2_20190221" in card
    assert "residual 0.05 px" in card and "3,600 m&sup2;" in card and "1e-09" in card
    assert "<dt>seen by</dt><dd>optical</dd>" in card


def test_site_without_zones_says_site_wide_only() -> None:
    html = render_report(build_inputs(zones=False)).html
    assert "site-wide indicators only" in html


def test_report_without_events_has_no_cards() -> None:
    report = render_report(build_inputs(events=[]))
    assert report.chips == {} and report.card_ids == ()
    assert "No event was detected." in report.html


def test_cards_are_capped() -> None:
    report = render_report(build_inputs(), max_cards=1)
    assert report.card_ids == ("e0001",)
    assert "1 of 3 events have a card (at most 1)" in report.html


def test_clouded_after_image_moves_to_the_next_clear_acquisition() -> None:
    grid, _ = site_and_grid()
    # The first date is cloudy over rows < 30; this event is first seen there.
    e = square_event("e0001", (5, 40), 4, grid, first_seen=DATES[0], last_unchanged=None)
    html = render_report(build_inputs(events=[e])).html
    assert "<b>after</b> 2019-02-11" in html
    assert "no acquisition before this event" in html


def test_event_at_the_grid_edge_gets_a_clipped_chip() -> None:
    grid, _ = site_and_grid()
    e = square_event("e0001", (grid.height - 3, grid.width - 3), 3, grid)
    report = render_report(build_inputs(events=[e]))
    assert set(report.chips) == {"e0001_before.png", "e0001_after.png"}


def test_map_uses_the_latest_clear_image() -> None:
    inputs = build_inputs()
    # The last date is half clear: the map falls back to the date before.
    scenes = (*inputs.scenes[:-1], dataclasses.replace(inputs.scenes[-1], clear_fraction=0.5))
    html = render_report(dataclasses.replace(inputs, scenes=scenes)).html
    assert "Image of 2019-02-21 (scene S2_20190221, 100% clear)" in html
    # ... and a scene the run could not align is never the map
    scenes = (*inputs.scenes[:-1], dataclasses.replace(inputs.scenes[-1], status="misaligned"))
    html = render_report(dataclasses.replace(inputs, scenes=scenes)).html
    assert "Image of 2019-02-21" in html


def test_map_without_scene_records_counts_valid_pixels() -> None:
    inputs = build_inputs()
    data = inputs.series.data.copy()
    data[-1, :, :, :40] = np.nan
    series = ImageSeries(inputs.series.dates, inputs.series.band_names, data)
    html = render_report(dataclasses.replace(inputs, series=series, scenes=())).html
    assert "Image of 2019-02-21 with zones" in html


# --------------------------------------------------------------------------- radar


def _card(html: str, event_id: str) -> str:
    start = html.index(f'id="card-{event_id}"')
    end = html.find('<article class="card"', start)
    return html[start : end if end > 0 else html.index('<details id="scenes"')]


def test_optical_card_shows_radar_chips_beside_when_radar_brackets_the_event() -> None:
    report = render_report(build_inputs(radar=True))
    card = _card(report.html, "e0001")
    # the main pair stays optical, under the names it always had
    assert "<b>before</b> 2019-02-11 &middot; scene S2_20190211" in card
    assert "Radar (VV, dB)" in card
    assert "<b>before</b> 2019-02-17 &middot; scene S1_20190217" in card
    assert "<b>after</b> 2019-03-01 &middot; scene S1_20190301" in card
    assert card.count("dB (black) to") == 1  # one stretch for both radar dates
    assert {"e0001_before.png", "e0001_after.png", "e0001_sar_before.png",
            "e0001_sar_after.png"} <= set(report.chips)  # fmt: skip
    assert "Radar chips show VV backscatter in decibels" in report.html
    assert "<td>radar</td><td>S1_20190205</td>" in report.html  # scenes table


def test_radar_stretch_is_common_and_shows_the_brightening() -> None:
    grid, _ = site_and_grid()
    e = square_event("e0001", (25, 20), 6, grid, sensors=("sar",))
    report = render_report(build_inputs(events=[e], radar=True))
    lo_hi = re.search(r"grey from (-?[\d.]+) dB \(black\) to (-?[\d.]+) dB", report.html)
    assert lo_hi is not None
    lo, hi = (float(v) for v in lo_hi.groups())
    assert -20 < lo < -13 < hi  # pooled over ground (-13 dB) and the brightened footprint
    before, after = (_decode(report.chips[f"e0001_{side}.png"]) for side in ("before", "after"))
    # the same stretch: the footprint (10 dB brighter after) is much lighter after,
    # the surroundings alike on both dates
    centre = (slice(before.shape[0] // 2 - 5, before.shape[0] // 2 + 5),) * 2
    assert after[centre].mean() > before[centre].mean() + 80
    assert abs(float(after[:20, :20].mean()) - float(before[:20, :20].mean())) < 15


def _decode(png: bytes) -> np.ndarray:
    return matplotlib.image.imread(io.BytesIO(png))[..., 0] * 255.0


def test_radar_only_event_gets_radar_as_its_main_pair() -> None:
    grid, _ = site_and_grid()
    e = square_event("e0001", (25, 20), 6, grid, sensors=("sar",))
    report = render_report(build_inputs(events=[e], radar=True))
    card = _card(report.html, "e0001")
    assert set(report.chips) == {"e0001_before.png", "e0001_after.png"}
    assert "Radar (VV, dB)" in card and "<b>Optical</b>" not in card
    assert 'class="chip-before chip-sar"' in card
    assert "<dt>seen by</dt><dd>radar</dd>" in card


def test_fused_event_is_seen_by_both_sensors() -> None:
    grid, _ = site_and_grid()
    e = square_event("e0001", (25, 20), 6, grid, sensors=("optical", "sar"))
    report = render_report(build_inputs(events=[e], radar=True))
    card = _card(report.html, "e0001")
    assert "<dt>seen by</dt><dd>optical, radar</dd>" in card
    assert "<b>Optical</b>" in card and "Radar (VV, dB)" in card
    assert len(report.chips) == 4


def test_radar_pair_needs_a_bracket_for_optical_events_but_not_for_radar_ones() -> None:
    grid, _ = site_and_grid()
    early = dict(first_seen=DATES[0], last_unchanged=None)  # before the first radar date
    opt = square_event("e0001", (60, 20), 4, grid, **early)
    sar = square_event("e0002", (60, 50), 4, grid, sensors=("sar",), **early)
    report = render_report(build_inputs(events=[opt, sar], radar=True))
    assert "Radar" not in _card(report.html, "e0001")
    assert "e0001_sar_before.png" not in report.chips
    card = _card(report.html, "e0002")
    assert "no radar acquisition before this event" in card
    assert "<b>after</b> 2019-02-05 &middot; scene S1_20190205" in card


def test_radar_before_skips_dates_that_do_not_show_the_footprint() -> None:
    grid, _ = site_and_grid()
    e = square_event("e0001", (25, 20), 6, grid, sensors=("sar",))
    inputs = build_inputs(events=[e], radar=True)
    assert inputs.radar is not None
    valid = np.ones_like(inputs.radar.valid)
    valid[1, 20:40, 15:35] = False  # 2019-02-17 lost over the footprint (e.g. layover)
    radar = dataclasses.replace(inputs.radar, valid=valid)
    html = render_report(dataclasses.replace(inputs, radar=radar)).html
    assert "<b>before</b> 2019-02-05 &middot; scene S1_20190205" in html


def test_radar_only_report_maps_the_radar_backscatter() -> None:
    grid, _ = site_and_grid()
    e = square_event("e0001", (25, 20), 6, grid, sensors=("sar",))
    report = render_report(build_inputs(events=[e], optical=False, radar=True))
    html = report.html
    assert (
        "Radar image of 2019-03-01 (scene S1_20190301, backscatter in dB, mean of VV, VH)" in html
    )
    assert "3 acquisitions from 2019-02-05 to 2019-03-01" in html
    assert set(report.chips) == {"e0001_before.png", "e0001_after.png"}
    assert "<b>Optical</b>" not in html
