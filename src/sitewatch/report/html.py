"""Render the self-contained HTML report (``report.html``) from :class:`ReportInputs`.

The page embeds every image as a ``data:`` URI and carries its CSS inline; a
Content-Security-Policy forbids anything else, so it opens offline from a file
and cannot leak a request.  Rendering is pure: the result holds the HTML text
and the chips' PNG bytes; :mod:`sitewatch.io.report_io` writes them.

Each evidence card has a main before/after pair (optical when the event was
seen optically and the run has optical images, else radar) and, when the run
has radar images, a radar pair beside it for events radar saw or whose dates
the radar series brackets.  Radar chips show the co-polarised backscatter in
decibels with one grey stretch for both dates.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import jinja2
import numpy as np

from .. import __version__
from ..errors import InputError
from ..models import Event, IndicatorResult
from ..sites import zones_on_grid
from .chips import Chip, CropWindow, apply_stretch, chip_pair, fit_stretch, grey_rgb
from .figures import png_bytes, site_map_png, timeline_png
from .inputs import ImageSeries, RadarSeries, ReportInputs, SceneRecord

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
    """A rendered report: the page and its chips.

    ``chips`` maps file names to PNG bytes: ``<event_id>_{before,after}.png`` is
    each card's main pair, ``<event_id>_sar_{before,after}.png`` the radar pair
    shown beside an optical one.
    """

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
    site, grid = inputs.site, inputs.grid
    cards = select_card_events(inputs.events, a.indicators, max_cards)
    card_ids = tuple(e.event_id for e in cards)

    background, map_date, map_caption = _map_background(inputs)
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
    card_views = [_card_view(e, inputs, a.indicators, chips) for e in cards]

    dates = [s.date for s in inputs.scenes] or [
        d for images in (inputs.series, inputs.radar) if images is not None for d in images.dates
    ]
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
            f"{map_caption} with zones (green) and all {len(inputs.events)} events outlined "
            "by kind; events with a card below are labelled. North is up (UTM grid north)."
        ),
        "timeline_png": _b64(tl_png),
        "timeline_size": _png_size(tl_png),
        "cards": card_views,
        "cards_note": _cards_note(len(inputs.events), len(cards), max_cards, inputs.radar),
        "scenes": [_scene_view(s) for s in inputs.scenes],
        "has_radar": inputs.radar is not None,
    }
    html = _environment().get_template("report.html.j2").render(**context)
    return RenderedReport(html, MappingProxyType(chips), card_ids)


# --- choosing images -----------------------------------------------------------------


def _map_background(inputs: ReportInputs) -> tuple[np.ndarray, dt.date, str]:
    """The map's ``(h, w, 3)`` float background, its date and the caption's opening.

    The optical series when there is one (people read true colour best), else
    the radar's backscatter averaged over its polarisations, in dB.
    """
    series, radar = inputs.series, inputs.radar
    if series is not None:
        i = _map_index(series, inputs.scenes)
        date = series.dates[i]
        scene = inputs.scene_on(date)
        caption = f"Image of {date.isoformat()}" + (
            f" (scene {scene.scene_id}, {_pct(scene.clear_fraction)} clear)" if scene else ""
        )
        return series.rgb(i), date, caption
    assert radar is not None  # ReportInputs holds at least one of the two
    shares = [float(np.isfinite(radar.mean_db(i)).mean()) for i in range(len(radar.dates))]
    i = _latest_good(shares)
    date = radar.dates[i]
    bands = ", ".join(b.upper() for b in radar.band_names)
    caption = (
        f"Radar image of {date.isoformat()} (scene {radar.scene_id(i)}, backscatter in dB"
        + (f", mean of {bands}" if len(radar.band_names) > 1 else f", {bands}")
        + ")"
    )
    return grey_rgb(radar.mean_db(i)), date, caption


def _map_index(series: ImageSeries, scenes: Sequence[SceneRecord]) -> int:
    """The latest image at least MAP_MIN_CLEAR clear, else the clearest (latest among equals).

    Clear shares are the optical scene records' (over the site), zero for a scene
    the run did not use; an image without a record counts its valid pixels over the grid.
    """
    # A scene the run could not align would misplace every outline drawn on it.
    clear = {
        s.date: s.clear_fraction if s.status == "used" else 0.0
        for s in scenes
        if s.sensor == "optical"
    }
    shares = [
        clear[d] if d in clear else float(np.isfinite(series.rgb(i)).all(axis=-1).mean())
        for i, d in enumerate(series.dates)
    ]
    return _latest_good(shares)


def _latest_good(shares: Sequence[float]) -> int:
    """Index of the last share >= MAP_MIN_CLEAR, else of the largest (latest among equals)."""
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


def _footprint_valid(ok: np.ndarray, e: Event) -> float:
    """Share of ``e``'s footprint (on the grid) where the ``(h, w)`` mask ``ok`` is True."""
    r, c = e.offset
    h, w = ok.shape
    mh, mw = e.mask.shape
    top, left = max(r, 0), max(c, 0)
    bottom, right = min(r + mh, h), min(c + mw, w)
    if bottom <= top or right <= left:
        return 0.0
    mask = e.mask[top - r : bottom - r, left - c : right - c]
    return float(ok[top:bottom, left:right][mask].mean()) if mask.any() else 0.0


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

    def shown(i: int) -> float:
        return _footprint_valid(np.isfinite(series.rgb(i)).all(axis=-1), e)

    n = len(series.dates)
    return _walk(shown, n, before, -1), _walk(shown, n, after, +1)


def _radar_indexes(radar: RadarSeries, e: Event) -> tuple[int | None, int | None]:
    """Before: the last radar date before ``first_seen``; after: the first on or after it.

    Radar dates are not those of ``last_unchanged`` (an optical date for a fused
    event), so the radar bracket is found from ``first_seen``; a side that does
    not show most of the footprint moves outwards, as for optical chips.
    """

    def shown(i: int) -> float:
        return _footprint_valid(np.isfinite(radar.db(i)), e)

    n = len(radar.dates)
    before = _walk(shown, n, radar.index_before(e.first_seen), -1)
    return before, _walk(shown, n, radar.index_on_or_after(e.first_seen), +1)


def _walk(shown: Callable[[int], float], n: int, start: int | None, step: int) -> int | None:
    """From ``start`` towards ``step``, the first index showing enough of the footprint."""
    if start is None:
        return None
    i = start
    while 0 <= i < n:
        if shown(i) >= CHIP_MIN_FOOTPRINT_VALID:
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
    details: str


@dataclass(frozen=True)
class _PairView:
    sensor: str  # "optical" or "sar" (CSS class and chip file names)
    title: str
    stretch: str
    before: _ChipView
    after: _ChipView


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
    pairs: tuple[_PairView, ...]


@dataclass(frozen=True)
class _SceneView:
    date: str
    sensor: str
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
    side: str, chip: Chip | None, date: dt.date | None, scene_id: str, details: str,
    file_name: str, chips: dict[str, bytes], sensor_word: str,
) -> _ChipView:  # fmt: skip
    """One chip's picture (stored in ``chips`` as ``file_name``) and caption."""
    png, size, missing = "", (0, 0), ""
    if chip is not None:
        data = png_bytes(chip.rgb)
        chips[file_name] = data
        png, size = _b64(data), (int(chip.rgb.shape[1]), int(chip.rgb.shape[0]))
    elif date is None:
        missing = f"no {sensor_word}acquisition {side} this event"
    else:
        missing = "the event lies outside the images"
    return _ChipView(
        side=side, png=png, size=size, missing=missing,
        date=date.isoformat() if date else "n/a", scene_id=scene_id, details=details,
    )  # fmt: skip


def _optical_pair(
    e: Event, series: ImageSeries, inputs: ReportInputs, chips: dict[str, bytes]
) -> _PairView:
    idx = _chip_indexes(series, e)
    before, after = (None if i is None else series.rgb(i) for i in idx)
    pair = chip_pair(e, before, after)
    views = []
    for side, chip, i in (("before", pair.before, idx[0]), ("after", pair.after, idx[1])):
        date = None if i is None else series.dates[i]
        scene = inputs.scene_on(date) if date is not None else None
        residual = (
            "not measured" if scene is None or scene.residual_px is None
            or not math.isfinite(scene.residual_px) else f"{scene.residual_px:.2f} px"
        )  # fmt: skip
        details = (
            f"clear {_pct(scene.clear_fraction) if scene else 'n/a'} of the site, "
            f"{_pct(chip.valid_fraction) if chip else 'n/a'} of the chip · alignment shift "
            f"{f'{scene.shift_size_px:.2f} px' if scene else 'n/a'}, residual {residual}"
        )
        views.append(
            _chip_view(side, chip, date, scene.scene_id if scene else "n/a", details,
                       f"{e.event_id}_{side}.png", chips, "")
        )  # fmt: skip
    stretch = "true colour, red, green and blue each stretched alike on both dates"
    return _PairView("optical", "Optical", stretch, views[0], views[1])


def _radar_pair(e: Event, radar: RadarSeries, main: bool, chips: dict[str, bytes]) -> _PairView:
    """The radar chips of ``e``: ``<id>_{side}.png`` when ``main``, else ``<id>_sar_{side}.png``."""
    idx = _radar_indexes(radar, e)
    before, after = (None if i is None else grey_rgb(radar.db(i)) for i in idx)
    pair = chip_pair(e, before, after)
    band = radar.db_band.upper()
    views = []
    for side, chip, i in (("before", pair.before, idx[0]), ("after", pair.after, idx[1])):
        date = None if i is None else radar.dates[i]
        details = f"{band} backscatter, {_pct(chip.valid_fraction) if chip else 'n/a'} of the chip"
        name = f"{e.event_id}_{side}.png" if main else f"{e.event_id}_sar_{side}.png"
        views.append(
            _chip_view(side, chip, date, "n/a" if i is None else radar.scene_id(i), details,
                       name, chips, "radar ")
        )  # fmt: skip
    if pair.stretch is None:
        stretch = "no radar image of this place"
    else:
        stretch = (
            f"grey from {pair.stretch.lo[0]:.1f} dB (black) to {pair.stretch.hi[0]:.1f} dB "
            "(white) on both dates"
        )
    return _PairView("sar", f"Radar ({band}, dB)", stretch, views[0], views[1])


def _card_pairs(e: Event, inputs: ReportInputs, chips: dict[str, bytes]) -> list[_PairView]:
    """The main pair (optical for an event seen optically) and, when it adds evidence, radar.

    Radar goes beside optical chips for an event radar saw, or one whose dates
    the radar series brackets (radar may show what clouds hid, or that it saw nothing).
    """
    series, radar = inputs.series, inputs.radar
    optical_main = series is not None and ("optical" in e.sensors or radar is None)
    if not optical_main:
        assert radar is not None  # ReportInputs holds at least one of the two
        return [_radar_pair(e, radar, True, chips)]
    assert series is not None
    pairs = [_optical_pair(e, series, inputs, chips)]
    if radar is not None and (
        "sar" in e.sensors or all(i is not None for i in _radar_indexes(radar, e))
    ):
        pairs.append(_radar_pair(e, radar, False, chips))
    return pairs


def _card_view(
    e: Event, inputs: ReportInputs, indicators: Sequence[IndicatorResult],
    chips: dict[str, bytes],
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
        sensors=", ".join(_SENSOR_WORDS.get(s, s) for s in e.sensors),
        pairs=tuple(_card_pairs(e, inputs, chips)),
    )  # fmt: skip


def _scene_view(s: SceneRecord) -> _SceneView:
    return _SceneView(
        date=s.date.isoformat(),
        sensor=_SENSOR_WORDS.get(s.sensor, s.sensor),
        scene_id=s.scene_id,
        status=s.status,
        clear=_pct(s.clear_fraction),
        shift=f"{s.shift_px[0]:+.2f}, {s.shift_px[1]:+.2f}",
        residual="n/a" if s.residual_px is None or not math.isfinite(s.residual_px)
        else f"{s.residual_px:.2f}",
    )  # fmt: skip


def _cards_note(n_events: int, n_cards: int, max_cards: int, radar: RadarSeries | None) -> str:
    if n_events == 0:
        return "The run detected no event."
    note = f"{n_cards} of {n_events} events have a card"
    if n_cards == max_cards and n_events > n_cards:
        note += f" (at most {max_cards})"
    note += (
        ": those cited by a triggered indicator first, then confirmed persistent events by "
        "score. Before and after chips share one stretch; the magenta line is the event's "
        "footprint."
    )
    if radar is not None:
        note += (
            f" Radar chips show {radar.db_band.upper()} backscatter in decibels (brighter: "
            "stronger return, as from new structures); radar sees through clouds but speckle "
            "makes single pixels noisy."
        )
    return note


# --- formatting ----------------------------------------------------------------------


#: how the page names sensor kinds
_SENSOR_WORDS = {"sar": "radar"}


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
