"""The report's figures: the site map and the activity timeline, as PNG bytes.

Pure: arrays and records in, PNG bytes out.  Figures are drawn on
:class:`matplotlib.figure.Figure` with the Agg canvas directly, never through
``pyplot``, so no global state or display is involved.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import matplotlib.dates as mdates
import matplotlib.image
import numpy as np
from affine import Affine
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.patches import Polygon as PolygonPatch
from shapely.geometry import MultiPolygon, Polygon

from ..errors import InputError
from ..models import STATUS_LEVELS, ContextEvent, Event, StatusPoint, ZoneTimelineRow
from .chips import CropWindow

__all__ = [
    "KIND_COLOURS",
    "SITE_ROW",
    "STATUS_COLOURS",
    "mask_edges",
    "nice_length",
    "png_bytes",
    "site_map_png",
    "timeline_png",
]

#: status band colours, quiet to high
STATUS_COLOURS = {
    "quiet": "#d9ef8b",
    "activity": "#fee08b",
    "elevated": "#fc8d59",
    "high": "#d73027",
}
#: event outline colour per kind
KIND_COLOURS = {
    "appeared": "#ff2d2d",
    "disappeared": "#00e5ff",
    "modified": "#ffd400",
    "transient": "#ffffff",
}
ZONE_COLOUR = "#7cfc00"
#: activity line per sensor kind of the acquisitions
SENSOR_STYLES: dict[str, dict[str, Any]] = {
    "optical": {"color": "#1f4e79", "lw": 1.2, "marker": "o", "ms": 2.5},
    "sar": {"color": "#b35806", "lw": 1.0, "ls": "--", "marker": "s", "ms": 2.5},
}
#: zone name of whole-site rows in timeline.csv
SITE_ROW = "_site"
_DPI = 110
# None drops matplotlib's default Software text (its version and web address) from the PNGs.
_PNG_META: dict[str, Any] = {"Software": None}


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode a ``(h, w, 3)`` uint8 array as PNG."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InputError(f"rgb: array {rgb.shape} {rgb.dtype}; give (h, w, 3) uint8")
    buf = io.BytesIO()
    matplotlib.image.imsave(buf, rgb, format="png", metadata=_PNG_META)
    return buf.getvalue()


def _figure_png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata=_PNG_META)
    return buf.getvalue()


def nice_length(target: float) -> float:
    """The largest 1, 2 or 5 times a power of ten not above ``target`` (> 0)."""
    if not (math.isfinite(target) and target > 0):
        raise InputError(f"target: {target}; give a positive length")
    power = 10.0 ** math.floor(math.log10(target))
    return max(m * power for m in (1.0, 2.0, 5.0) if m * power <= target * (1 + 1e-12))


def mask_edges(mask: np.ndarray, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Segments ``(n, 2, 2)`` of (x, y) = (col, row) along the pixel borders of ``mask``.

    Pixel ``(r, c)`` covers ``[c, c + 1] x [r, r + 1]`` (the grid's own pixel
    corners), so the outline is exact at any zoom.
    """
    m = np.pad(np.asarray(mask, dtype=bool), 1)
    r0, c0 = offset[0] - 1, offset[1] - 1
    # A border lies between two neighbours that differ.
    hr, hc = np.nonzero(m[1:, :] != m[:-1, :])  # between rows i and i+1 of the padded mask
    vr, vc = np.nonzero(m[:, 1:] != m[:, :-1])
    horizontal = [[(c + c0, r + 1 + r0), (c + 1 + c0, r + 1 + r0)] for r, c in zip(hr, hc)]
    vertical = [[(c + 1 + c0, r + r0), (c + 1 + c0, r + 1 + r0)] for r, c in zip(vr, vc)]
    segs = np.array(horizontal + vertical, dtype=float)
    return segs.reshape(-1, 2, 2)


def _pixel_rings(geom: Polygon | MultiPolygon, transform: Affine) -> list[np.ndarray]:
    inverse = ~transform
    polys = geom.geoms if isinstance(geom, MultiPolygon) else [geom]
    rings = []
    for p in polys:
        xy = np.asarray(p.exterior.coords)
        cols, rows = inverse @ (xy[:, 0], xy[:, 1])
        rings.append(np.column_stack([cols, rows]))
    return rings


def site_map_png(
    rgb: np.ndarray,
    transform: Affine,
    zones: Mapping[str, Polygon | MultiPolygon],
    events: Sequence[Event],
    label_ids: Collection[str] | None = None,
    view: CropWindow | None = None,
    title: str = "",
) -> bytes:
    """The site map: an image with zones and events outlined, a scale bar and north arrow.

    Parameters
    ----------
    rgb : numpy.ndarray
        ``(h, w, 3)`` uint8 background, north up (already stretched).
    transform : Affine
        The grid's pixel-to-CRS transform; the CRS must be in metres.
    zones : mapping of str to Polygon or MultiPolygon
        Zone polygons in the grid's CRS.
    events : sequence of Event
        Footprints outlined in their kind's colour.
    label_ids : collection of str or None
        Events labelled with their id; None labels all.
    view : CropWindow or None
        Part of the grid to show (e.g. where there is imagery); None: all of it.
    title : str
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"rgb: array of shape {rgb.shape}; give an (h, w, 3) image")
    if transform.b != 0 or transform.d != 0 or transform.e >= 0:
        raise InputError(
            f"transform: {tuple(transform)[:6]} is not north-up; give the site grid's transform"
        )
    h, w = rgb.shape[:2]
    if view is None or view.empty:
        view = CropWindow(0, h, 0, w)
    vh, vw = view.shape
    width_in = 8.0
    fig = Figure(figsize=(width_in, width_in * vh / vw + 0.6))
    ax = fig.add_axes((0.01, 0.06, 0.98, 0.88 if title else 0.93))
    ax.imshow(rgb, extent=(0, w, h, 0), interpolation="nearest")
    ax.set_xlim(view.col0, view.col1)
    ax.set_ylim(view.row1, view.row0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=11)
    label_box = {"facecolor": "black", "alpha": 0.6, "pad": 1.0, "lw": 0}
    for name, geom in zones.items():
        for ring in _pixel_rings(geom, transform):
            ax.add_patch(PolygonPatch(ring, closed=True, fill=False, edgecolor=ZONE_COLOUR, lw=1.4))
        cx, _ = ~transform @ (geom.centroid.x, geom.centroid.y)
        minx, _, _, maxy = geom.bounds
        _, top = ~transform @ (minx, maxy)
        ax.text(cx, top - 0.5, name, color=ZONE_COLOUR, fontsize=7, ha="center", va="bottom",
                bbox=label_box, clip_on=True)  # fmt: skip
    for e in events:
        colour = KIND_COLOURS.get(e.kind, "#ffffff")
        faint = e.kind == "transient"  # many and short-lived: drawn, but quietly
        ax.add_collection(
            LineCollection(list(mask_edges(e.mask, e.offset)), colors=colour,
                           linewidths=0.7 if faint else 1.2, alpha=0.6 if faint else 1.0)
        )  # fmt: skip
        if label_ids is None or e.event_id in label_ids:
            rows, cols = np.nonzero(e.mask)
            ax.text(e.offset[1] + float(cols.max()) + 1.5, e.offset[0] + float(rows.min()),
                    e.event_id, color=colour, fontsize=7, ha="left", va="top", bbox=label_box,
                    clip_on=True)  # fmt: skip
    _scale_bar(ax, view, float(transform.a))
    _north_arrow(ax, view)
    kinds = sorted({e.kind for e in events})
    handles = [Patch(facecolor="none", edgecolor=ZONE_COLOUR, label="zone")]
    handles += [Patch(facecolor="none", edgecolor=KIND_COLOURS[k], label=k) for k in kinds]
    # A dark legend, so the white of transient outlines shows as it does on the map.
    fig.legend(
        handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
        facecolor="#333333", edgecolor="none", labelcolor="white", framealpha=1.0,
    )  # fmt: skip
    return _figure_png(fig)


def _scale_bar(ax: Axes, view: CropWindow, pixel_m: float) -> None:
    vh, vw = view.shape
    length_m = nice_length(vw * pixel_m / 4.0)
    length_px = length_m / pixel_m
    x0, y0 = view.col0 + 0.04 * vw, view.row0 + 0.95 * vh
    bar_h = max(0.01 * vh, 0.5)
    label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
    ax.add_patch(Rectangle((x0 - 0.015 * vw, y0 - 0.055 * vh), length_px + 0.03 * vw, 0.075 * vh,
                           facecolor="black", alpha=0.5, lw=0))  # fmt: skip
    ax.add_patch(Rectangle((x0, y0 - bar_h), length_px, bar_h, facecolor="white", lw=0))
    ax.text(x0 + length_px / 2, y0 - bar_h - 0.008 * vh, label, color="white", fontsize=8,
            ha="center", va="bottom")  # fmt: skip


def _north_arrow(ax: Axes, view: CropWindow) -> None:
    vh, vw = view.shape
    x = view.col0 + 0.94 * vw
    y_tip, y_tail = view.row0 + 0.04 * vh, view.row0 + 0.13 * vh
    ax.annotate(
        "", xy=(x, y_tip), xytext=(x, y_tail),
        arrowprops={"facecolor": "white", "edgecolor": "black", "width": 3, "headwidth": 10},
    )  # fmt: skip
    ax.text(
        x, y_tail + 0.01 * vh, "N", color="white", fontsize=11, fontweight="bold",
        ha="center", va="top", bbox={"facecolor": "black", "alpha": 0.5, "pad": 1.5, "lw": 0},
    )  # fmt: skip


def timeline_png(
    rows: Sequence[ZoneTimelineRow],
    zones: Sequence[str],
    events: Sequence[Event],
    history: Sequence[StatusPoint],
    context: Sequence[ContextEvent],
    label_ids: Collection[str] | None = None,
) -> bytes:
    """Activity per zone through time, with events, the status band and context events.

    Parameters
    ----------
    rows : sequence of ZoneTimelineRow
        The run's timeline; zone ``_site`` is drawn as "whole site".
    zones : sequence of str
        Zones in the order to draw them (each gets a panel, after the whole site).
    events : sequence of Event
        Marked at ``first_seen`` in their zone's panel (the whole site's when None).
    history : sequence of StatusPoint
        Status per date, drawn as a coloured band on top.
    context : sequence of ContextEvent
        Vertical lines across every panel, labelled on the band.
    label_ids : collection of str or None
        Events whose id is written beside their marker; None labels all.
    """
    panels = [SITE_ROW, *[z for z in zones if z != SITE_ROW]]
    panels += sorted({r.zone for r in rows} - set(panels))
    dates = sorted({r.date for r in rows} | {p.date for p in history})
    if not dates:
        raise InputError("rows, history: both empty; give the run's timeline rows")
    span = (dates[0] - dt.timedelta(days=3), dates[-1] + dt.timedelta(days=3))
    height_in = 1.3 + 0.5 + 1.05 * len(panels)
    fig = Figure(figsize=(9.0, height_in))
    ratios = [0.45] + [1.0] * len(panels)
    axes = fig.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    # Fixed margins in inches: room for the context labels on top, dates and legend below.
    fig.subplots_adjust(
        left=0.17, right=0.98, top=1 - 0.35 / height_in, bottom=0.95 / height_in, hspace=0.12
    )
    band = axes[0]
    _status_band(band, history, span)
    for ax, zone in zip(axes[1:], panels):
        top = 0.0
        for sensor, style in SENSOR_STYLES.items():
            series = sorted(
                (r for r in rows if r.zone == zone and r.sensor == sensor), key=lambda r: r.date
            )
            y = np.array([r.activity_index * 100.0 for r in series], dtype=float)
            ax.plot([r.date for r in series], y, **style)
            if np.isfinite(y).any():
                top = max(top, float(np.nanmax(y)))
        ax.set_ylim(0, max(top * 1.35, 1.0))
        ax.set_ylabel("whole site" if zone == SITE_ROW else zone, rotation=0, ha="right",
                      va="center", fontsize=8)  # fmt: skip
        ax.tick_params(labelsize=7)
        ax.grid(axis="y", alpha=0.3)
        mine = [e for e in events if (e.zone or SITE_ROW) == zone]
        for e in mine:
            colour = KIND_COLOURS.get(e.kind, "#888888")
            ax.plot([e.first_seen], [0.92], marker="v", ms=6, color=colour, mec="black", mew=0.5,
                    transform=ax.get_xaxis_transform(), clip_on=False)  # fmt: skip
            if label_ids is None or e.event_id in label_ids:
                ax.text(e.first_seen, 0.72, e.event_id, transform=ax.get_xaxis_transform(),
                        fontsize=6, ha="center", va="top")  # fmt: skip
    context = [c for c in context if span[0] <= c.date <= span[1]]
    for ax in axes:
        for c in context:
            ax.axvline(c.date, color="#6a3d9a", lw=1.0, ls="--")
    for c in context:
        label = f"{c.label} ({c.date.isoformat()})"
        band.text(c.date, 1.08, label, color="#6a3d9a", transform=band.get_xaxis_transform(),
                  fontsize=8, ha="center", va="bottom")  # fmt: skip
    axes[-1].set_xlim(*span)
    locator = mdates.AutoDateLocator()
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    sensors = [k for k in SENSOR_STYLES if any(r.sensor == k for r in rows)]
    handles: list[Artist] = [Line2D([], [], **SENSOR_STYLES[k], label=k) for k in sensors]
    handles += [Patch(facecolor=STATUS_COLOURS[s], label=f"status {s}") for s in STATUS_LEVELS]
    handles += [
        Line2D([], [], ls="none", marker="v", ms=6, color=KIND_COLOURS[k], mec="black", mew=0.5,
               label=k)
        for k in sorted({e.kind for e in events})
    ]  # fmt: skip
    if context:
        handles.append(Line2D([], [], color="#6a3d9a", lw=1.0, ls="--", label="context event"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5), fontsize=7,
               frameon=False)  # fmt: skip
    fig.text(0.01, 0.5, "activity index (% of the clear zone newly changed)", rotation=90,
             va="center", fontsize=8)  # fmt: skip
    return _figure_png(fig)


def _status_band(ax: Axes, history: Sequence[StatusPoint], span: tuple[dt.date, dt.date]) -> None:
    points = sorted(history, key=lambda p: p.date)
    for i, p in enumerate(points):
        end = points[i + 1].date if i + 1 < len(points) else span[1]
        colour = STATUS_COLOURS[p.status]
        ax.axvspan(mdates.date2num(p.date), mdates.date2num(end), color=colour, lw=0)
    ax.set_yticks([])
    ax.set_ylabel("status", rotation=0, ha="right", va="center", fontsize=8)
    if not points:
        ax.text(0.5, 0.5, "no status history", transform=ax.transAxes,
                ha="center", va="center", fontsize=8)  # fmt: skip
