"""Render the self-contained HTML report (``report.html``) from :class:`ReportInputs`.

The page embeds every image as a ``data:`` URI and carries its CSS inline; a
Content-Security-Policy forbids anything else, so it opens offline from a file
and cannot leak a request.  Rendering is pure: the result holds the HTML text
and the chips' PNG bytes; :mod:`sitewatch.io.report_io` writes them.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import jinja2
import numpy as np

from .. import __version__
from ..errors import InputError
from ..models import Event, IndicatorResult
from ..sites import zones_on_grid
from .chips import Chip, ChipPair, CropWindow, apply_stretch, chip_pair, fit_stretch
from .figures import png_bytes, site_map_png, timeline_png
from .inputs import ImageSeries, ReportInputs, SceneRecord

__all__ = [
    "DEFAULT_MAX_CARDS",
    "MAP_MIN_CLEAR",
    "RenderedReport",
    "render_report",
    "select_card_events",
]

#: evidence cards shown at most; the rest are still outlined on the map and timeline
DEFAULT_MAX_CARDS = 12
#: the map shows the latest image at least this clear (else the clearest one)
MAP_MIN_CLEAR = 0.9
#: a chip image must show at least this share of the footprint, else a later
#: (after) or earlier (before) acquisition is used
CHIP_MIN_FOOTPRINT_VALID = 0.5


@dataclass(frozen=True)
class RenderedReport:
    """A rendered report: the page and its chips (``<event_id>_{before,after}.png``)."""

    html: str
    chips: Mapping[str, bytes]
    card_ids: tuple[str, ...]


def select_card_events(
    events: Sequence[Event], indicators: Sequence[IndicatorResult], max_cards: int
) -> list[Event]:
    """The events that get an evidence card, most telling first.

    Significant events are those cited by a triggered indicator and those
    confirmed and not transient; if there is none, every event competes.  They
    are ranked cited first, then by score and area, and cut at ``max_cards``.
    """
    if max_cards < 0:
        raise InputError(f"max_cards: {max_cards}; give a number of cards >= 0")
    cited = {i for ind in indicators if ind.triggered for i in ind.evidence}
    significant = [
        e for e in events if e.event_id in cited or (e.confirmed and e.kind != "transient")
    ]
    pool = significant or list(events)
    pool.sort(key=lambda e: (e.event_id not in cited, -_finite_or(e.score, -1.0), -e.area_m2))
    return pool[:max_cards]


def render_report(inputs: ReportInputs, max_cards: int = DEFAULT_MAX_CARDS) -> RenderedReport:
    """Draw the figures and chips and fill the template.

    Parameters
    ----------
    inputs : ReportInputs
    max_cards : int
        Most evidence cards to show (see :func:`select_card_events`).
    """
    a = inputs.assessment
    site, grid, series = inputs.site, inputs.grid, inputs.series
    cards = select_card_events(inputs.events, a.indicators, max_cards)
    card_ids = tuple(e.event_id for e in cards)

    map_i = _map_index(series, inputs.scenes)
    background = series.rgb(map_i)
    map_png = site_map_png(
        apply_stretch(background, fit_stretch(background)), grid.transform,
        zones_on_grid(site, grid), inputs.events, label_ids=set(card_ids),
        view=_imaged_window(background),
    )  # fmt: skip
    tl_png = timeline_png(
        inputs.timeline, site.zone_names, inputs.events, a.history, site.context_events,
        label_ids=set(card_ids),
    )  # fmt: skip

    chips: dict[str, bytes] = {}
    card_views = []
    for e in cards:
        before_i, after_i = _chip_indexes(series, e)
        pair = chip_pair(
            e,
            None if before_i is None else series.rgb(before_i),
            None if after_i is None else series.rgb(after_i),
        )
        view = _card_view(e, pair, before_i, after_i, inputs, a.indicators, chips)
        card_views.append(view)

    dates = [s.date for s in inputs.scenes] or list(series.dates)
    map_date = series.dates[map_i]
    map_scene = inputs.scene_on(map_date)
    context = {
        "version": __version__,
        "site_name": site.name,
        "profile": a.profile,
        "as_of": a.as_of.isoformat(),
        "status": a.status,
        "score": f"{a.score:.2f}",
        "summary": [p.strip() for p in a.summary.split("\n\n") if p.strip()],
        "has_zones": bool(site.zones),
        "indicators": [_indicator_view(ind, set(card_ids)) for ind in a.indicators],
        "n_scenes": len(dates),
        "first_date": min(dates).isoformat(),
        "last_date": max(dates).isoformat(),
        "grid_crs": grid.crs,
        "pixel_m": f"{grid.pixel_size:g}",
        "map_png": _b64(map_png),
        "map_size": _png_size(map_png),
        "map_date": map_date.isoformat(),
        "map_caption": (
            f"Image of {map_date.isoformat()}"
            + (
                f" (scene {map_scene.scene_id}, {_pct(map_scene.clear_fraction)} clear)"
                if map_scene
                else ""
            )
            + f" with zones (green) and all {len(inputs.events)} events outlined by kind; "
            "events with a card below are labelled. North is up (UTM grid north)."
        ),  # fmt: skip
        "timeline_png": _b64(tl_png),
        "timeline_size": _png_size(tl_png),
        "cards": card_views,
        "cards_note": _cards_note(len(inputs.events), len(cards), max_cards),
        "scenes": [_scene_view(s) for s in inputs.scenes],
    }
    html = _environment().get_template("report.html.j2").render(**context)
    return RenderedReport(html, MappingProxyType(chips), card_ids)


# --- choosing images -----------------------------------------------------------------


def _map_index(series: ImageSeries, scenes: Sequence[SceneRecord]) -> int:
    """The latest image at least MAP_MIN_CLEAR clear, else the clearest (latest among equals).

    Clear shares are the scene records' (over the site), zero for a scene the run
    did not use; an image without a record counts its valid pixels over the grid.
    """
    # A scene the run could not align would misplace every outline drawn on it.
    clear = {s.date: s.clear_fraction if s.status == "used" else 0.0 for s in scenes}
    shares = [
        clear[d] if d in clear else float(np.isfinite(series.rgb(i)).all(axis=-1).mean())
        for i, d in enumerate(series.dates)
    ]
    good = [i for i, s in enumerate(shares) if s >= MAP_MIN_CLEAR]
    if good:
        return good[-1]
    best = max(shares)
    return max(i for i, s in enumerate(shares) if s == best)


def _imaged_window(image: np.ndarray) -> CropWindow | None:
    """The bounding box of the pixels with imagery; None when there are none."""
    ok = np.isfinite(image).all(axis=-1)
    rows, cols = np.nonzero(ok.any(axis=1))[0], np.nonzero(ok.any(axis=0))[0]
    if rows.size == 0:
        return None
    return CropWindow(int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)


def _footprint_valid(series: ImageSeries, i: int, e: Event) -> float:
    r, c = e.offset
    h, w = series.shape
    mh, mw = e.mask.shape
    top, left = max(r, 0), max(c, 0)
    bottom, right = min(r + mh, h), min(c + mw, w)
    if bottom <= top or right <= left:
        return 0.0
    mask = e.mask[top - r : bottom - r, left - c : right - c]
    ok = np.isfinite(series.rgb(i)[top:bottom, left:right]).all(axis=-1)
    return float(ok[mask].mean()) if mask.any() else 0.0


def _chip_indexes(series: ImageSeries, e: Event) -> tuple[int | None, int | None]:
    """Before: the image of ``last_unchanged``; after: of ``first_seen``.

    A side whose image hides most of the footprint moves to the nearest
    acquisition that shows it (earlier for before, later for after).
    """
    after = series.index_on_or_after(e.first_seen)
    before = None
    if e.last_unchanged is not None:
        before = series.index_on_or_before(e.last_unchanged)
    elif after is not None and after > 0:
        before = after - 1
    return _walk(series, e, before, -1), _walk(series, e, after, +1)


def _walk(series: ImageSeries, e: Event, start: int | None, step: int) -> int | None:
    if start is None:
        return None
    i = start
    while 0 <= i < len(series.dates):
        if _footprint_valid(series, i, e) >= CHIP_MIN_FOOTPRINT_VALID:
            return i
        i += step
    return start


# --- view models ---------------------------------------------------------------------


@dataclass(frozen=True)
class _EvidenceRef:
    id: str
    carded: bool


@dataclass(frozen=True)
class _IndicatorView:
    name: str
    zone: str
    signal: str
    value: str
    threshold: str
    triggered: bool
    level: str
    false_alarm_rate: str
    evidence: tuple[_EvidenceRef, ...]


@dataclass(frozen=True)
class _ChipView:
    side: str
    png: str
    size: tuple[int, int]
    missing: str
    date: str
    scene_id: str
    clear: str
    valid: str
    shift: str
    residual: str


@dataclass(frozen=True)
class _CardView:
    event_id: str
    kind: str
    zone: str
    area: str
    score: str
    p_value: str
    confirmed: str
    first_seen: str
    last_unchanged: str
    growth: str
    cited_by: str
    sensors: str
    before: _ChipView
    after: _ChipView


@dataclass(frozen=True)
class _SceneView:
    date: str
    scene_id: str
    status: str
    clear: str
    shift: str
    residual: str


def _indicator_view(ind: IndicatorResult, carded: set[str]) -> _IndicatorView:
    return _IndicatorView(
        name=ind.name,
        zone=ind.zone or "whole site",
        signal=ind.signal,
        value=_num(ind.value),
        threshold=_num(ind.threshold),
        triggered=ind.triggered,
        level=ind.level,
        false_alarm_rate="not measured" if ind.false_alarm_rate is None
        else _pct(ind.false_alarm_rate, 1),
        evidence=tuple(_EvidenceRef(i, i in carded) for i in ind.evidence),
    )  # fmt: skip


def _chip_view(
    side: str, chip: Chip | None, index: int | None, inputs: ReportInputs, e: Event,
    chips: dict[str, bytes],
) -> _ChipView:  # fmt: skip
    series = inputs.series
    date = series.dates[index] if index is not None else None
    scene = inputs.scene_on(date) if date is not None else None
    png, size, missing = "", (0, 0), ""
    if chip is not None:
        data = png_bytes(chip.rgb)
        chips[f"{e.event_id}_{side}.png"] = data
        png, size = _b64(data), (int(chip.rgb.shape[1]), int(chip.rgb.shape[0]))
    elif date is None:
        missing = f"no acquisition {'before' if side == 'before' else 'after'} this event"
    else:
        missing = "the event lies outside the images"
    return _ChipView(
        side=side,
        png=png,
        size=size,
        missing=missing,
        date=date.isoformat() if date else "n/a",
        scene_id=scene.scene_id if scene else "n/a",
        clear=_pct(scene.clear_fraction) if scene else "n/a",
        valid=_pct(chip.valid_fraction) if chip else "n/a",
        shift=f"{scene.shift_size_px:.2f} px" if scene else "n/a",
        residual="not measured" if scene is None or scene.residual_px is None
        or not math.isfinite(scene.residual_px) else f"{scene.residual_px:.2f} px",
    )  # fmt: skip


def _card_view(
    e: Event, pair: ChipPair, before_i: int | None, after_i: int | None,
    inputs: ReportInputs, indicators: Sequence[IndicatorResult], chips: dict[str, bytes],
) -> _CardView:  # fmt: skip
    cited = [ind.name for ind in indicators if e.event_id in ind.evidence]
    if len(e.growth) > 1:
        growth = (
            f"grew over {len(e.growth)} acquisitions to {e.growth[-1].area_m2:,.0f} m\u00b2 "
            f"by {e.growth[-1].date.isoformat()}"
        )
    else:
        growth = "seen at one acquisition"
    return _CardView(
        event_id=e.event_id,
        kind=e.kind,
        zone=e.zone or "no zone",
        area=f"{e.area_m2:,.0f}",
        score=f"{e.score:.2f}" if math.isfinite(e.score) else "n/a",
        p_value=f"{e.p_value:.2g}" if math.isfinite(e.p_value) else "n/a",
        confirmed=f"yes, on {e.confirmed_on.isoformat()}" if e.confirmed and e.confirmed_on
        else ("yes" if e.confirmed else "not yet"),
        first_seen=e.first_seen.isoformat(),
        last_unchanged=e.last_unchanged.isoformat() if e.last_unchanged else "n/a",
        growth=growth,
        cited_by=", ".join(cited) or "no indicator",
        sensors=" and ".join(e.sensors),
        before=_chip_view("before", pair.before, before_i, inputs, e, chips),
        after=_chip_view("after", pair.after, after_i, inputs, e, chips),
    )  # fmt: skip


def _scene_view(s: SceneRecord) -> _SceneView:
    return _SceneView(
        date=s.date.isoformat(),
        scene_id=s.scene_id,
        status=s.status,
        clear=_pct(s.clear_fraction),
        shift=f"{s.shift_px[0]:+.2f}, {s.shift_px[1]:+.2f}",
        residual="n/a" if s.residual_px is None or not math.isfinite(s.residual_px)
        else f"{s.residual_px:.2f}",
    )  # fmt: skip


def _cards_note(n_events: int, n_cards: int, max_cards: int) -> str:
    if n_events == 0:
        return "The run detected no event."
    note = f"{n_cards} of {n_events} events have a card"
    if n_cards == max_cards and n_events > n_cards:
        note += f" (at most {max_cards})"
    return note + (
        ": those cited by a triggered indicator first, then confirmed persistent events by "
        "score. Before and after chips share one stretch; the magenta line is the event's "
        "footprint."
    )


# --- formatting ----------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("sitewatch.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _finite_or(x: float, default: float) -> float:
    return x if math.isfinite(x) else default


def _num(x: float) -> str:
    """Up to three significant digits, thousands separated, no trailing zeros."""
    if not math.isfinite(x):
        return "n/a"
    if abs(x) >= 100 or x == round(x):
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _pct(x: float, digits: int = 0) -> str:
    return f"{x:.{digits}%}" if math.isfinite(x) else "n/a"
