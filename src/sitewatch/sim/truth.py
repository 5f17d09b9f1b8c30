"""Ground truth of a scenario: its events as they could be seen, in events.geojson form.

An event is *seen* on an acquisition when at least :data:`CLEAR_SHARE` of its
pixels are clear there (covered by the image, no cloud, no cloud shadow).
``first_seen`` is the first such acquisition on or after the onset (before
the end, for transients), ``last_unchanged`` the last such one before the
onset. An event never seen after its onset, or never seen before it (no
image shows the site as it was, so nothing can be compared), is left out of
the features and listed under ``unobserved`` with the reason, since no change
detection could find it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping

from .layout import to_lonlat
from .render import CLEAR, footprint_mask, scene_masks
from .scenarios import Scenario, SimEvent

__all__ = [
    "CLEAR_SHARE",
    "SAR_VISIBLE_DB",
    "TruthEvent",
    "clear_shares",
    "sar_truth_events",
    "truth_events",
    "truth_geojson",
]

CLEAR_SHARE = 0.5


@dataclass(frozen=True)
class TruthEvent:
    """A scenario event with the dates on which it could be seen."""

    event: SimEvent
    first_seen: dt.date | None
    last_unchanged: dt.date | None

    @property
    def observed(self) -> bool:
        """Seen both before and after the onset: a change that images can show."""
        return self.first_seen is not None and self.last_unchanged is not None


def clear_shares(
    scenario: Scenario,
    masks: Sequence[np.ndarray] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Share of each event's pixels that is clear on each date: (n_events, n_dates).

    Parameters
    ----------
    scenario : Scenario
        Its events and acquisitions.
    masks : sequence of arrays or None
        Cloud mask classes per date on the UTM grid (:func:`scene_masks`); computed
        when not given.
    progress : callable or None
        Called with (done, total) dates.
    """
    n = len(scenario.acquisitions)
    feet = [footprint_mask(scenario.layout, e.geometry) for e in scenario.events]
    out = np.zeros((len(feet), n))
    for i in range(n):
        m = masks[i] if masks is not None else scene_masks(scenario, i)
        clear = m == CLEAR
        for k, foot in enumerate(feet):
            out[k, i] = clear[foot].mean()
        if progress is not None:
            progress(i + 1, n)
    return out


def truth_events(scenario: Scenario, masks: Sequence[np.ndarray] | None = None) -> list[TruthEvent]:
    """Every event of ``scenario`` with its ``first_seen`` and ``last_unchanged`` dates."""
    shares = clear_shares(scenario, masks)
    dates = scenario.dates
    out = []
    for k, e in enumerate(scenario.events):
        seen = shares[k] >= CLEAR_SHARE
        after = [d for i, d in enumerate(dates) if seen[i] and e.active(d)]
        before = [d for i, d in enumerate(dates) if seen[i] and d < e.onset]
        out.append(TruthEvent(e, after[0] if after else None, before[-1] if before else None))
    return out


def truth_geojson(
    scenario: Scenario,
    events: Sequence[TruthEvent] | None = None,
    sar_visible: Mapping[str, bool] | None = None,
) -> dict[str, Any]:
    """The truth as an RFC 7946 FeatureCollection in the format of ``events.geojson``.

    Features carry ``event_id, first_seen, last_unchanged, zone, kind, area_m2,
    score`` (1) and ``p_value`` (0) like detected events, plus ``onset``, ``end``
    (transients) and ``label``; with ``sar_visible`` (by event id) also whether
    radar can see the event.
    """
    events = truth_events(scenario) if events is None else events
    features = []
    for t in events:
        if not t.observed:
            continue
        e = t.event
        props = {
            "event_id": e.event_id,
            "first_seen": t.first_seen.isoformat() if t.first_seen else None,
            "last_unchanged": t.last_unchanged.isoformat() if t.last_unchanged else None,
            "zone": e.zone,
            "kind": e.kind,
            # UTM area: at this site the scale error is below 0.05%.
            "area_m2": round(float(e.geometry.area), 1),
            "score": 1.0,
            "p_value": 0.0,
            "onset": e.onset.isoformat(),
            "end": e.end.isoformat() if e.end else None,
            "label": e.label,
        }
        if sar_visible is not None:
            props["sar_visible"] = bool(sar_visible.get(e.event_id, False))
        # RFC 7946: exterior rings counter-clockwise.
        geom = mapping(shapely.orient_polygons(to_lonlat(e.geometry)))
        features.append({"type": "Feature", "properties": props, "geometry": _lists(geom)})
    return {
        "type": "FeatureCollection",
        "features": features,
        "scenario": scenario.name,
        "seed": scenario.seed,
        "unobserved": [
            {
                "event_id": t.event.event_id,
                "onset": t.event.onset.isoformat(),
                "label": t.event.label,
                "reason": "never clear after the onset"
                if t.first_seen is None
                else "never clear before the onset",
            }
            for t in events
            if not t.observed
        ],
    }


def _lists(obj: Any) -> Any:
    # shapely.mapping gives tuples; JSON and equality checks want lists, rounded to ~1 cm.
    if isinstance(obj, dict):
        return {k: _lists(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_lists(v) for v in obj]
    if isinstance(obj, float):
        return round(obj, 7)
    return obj


#: mean backscatter change (dB) over an event's footprint from which radar can see it
SAR_VISIBLE_DB = 3.0


def sar_truth_events(
    scenario: Scenario,
    dates: Sequence[dt.date],
    change_db: Callable[[SimEvent, dt.date], float],
) -> list[tuple[TruthEvent, bool]]:
    """Every event as a radar series on ``dates`` sees it (no clouds: every date is clear).

    ``change_db(event, date)`` is the mean absolute backscatter change in dB over the
    footprint between the day before the onset and ``date``; an event is radar-visible
    when it reaches :data:`SAR_VISIBLE_DB` on its ``first_seen`` date.
    """
    out = []
    for e in scenario.events:
        after = [d for d in dates if e.active(d)]
        before = [d for d in dates if d < e.onset]
        t = TruthEvent(e, after[0] if after else None, before[-1] if before else None)
        visible = t.first_seen is not None and change_db(e, t.first_seen) >= SAR_VISIBLE_DB
        out.append((t, visible))
    return out
