"""Score detected events against a scenario's truth (both as events.geojson dicts).

A truth event is *matched* by a detected event whose polygon overlaps it (IoU > 0)
or whose centroid lies inside it.  Persistent truth events are those whose kind is
not ``transient``; persistent detections are those neither ``transient`` nor
unconfirmed (``confirmed: false``: first seen on the last look at its place, not
yet re-observed), and one counts toward precision when it matches any truth
event (transient ones included, since they are real activity).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from shapely.geometry import shape

__all__ = ["EventScores", "score_events"]


@dataclass(frozen=True)
class EventScores:
    """Event-level quality of one run."""

    n_truth_persistent: int
    n_detected: int
    n_detected_persistent: int
    recall_persistent: float
    precision_persistent: float
    first_seen_exact: float
    matched: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _matches(a: Any, b: Any) -> bool:
    return bool(a.intersects(b) and a.intersection(b).area > 0) or b.contains(a.centroid)


def score_events(truth: Mapping[str, Any], detected: Mapping[str, Any]) -> EventScores:
    """Recall of persistent truth events, precision of persistent detections, date accuracy.

    ``precision_persistent``: share of detected confirmed non-transient events matching
    some truth event (1.0 when none was detected).  ``first_seen_exact``: among matched persistent
    truth events, share whose best match has the same ``first_seen``.
    """
    tfeats = [(f["properties"], shape(f["geometry"])) for f in truth.get("features", [])]
    dfeats = [(f["properties"], shape(f["geometry"])) for f in detected.get("features", [])]
    persistent = [(p, g) for p, g in tfeats if p.get("kind") != "transient"]
    found = 0
    exact = 0
    for tp, tg in persistent:
        hits = [dp for dp, dg in dfeats if _matches(dg, tg)]
        if hits:
            found += 1
            exact += any(h.get("first_seen") == tp.get("first_seen") for h in hits)
    det_p = [
        (p, g) for p, g in dfeats if p.get("kind") != "transient" and p.get("confirmed", True)
    ]
    good = sum(1 for _, dg in det_p if any(_matches(dg, tg) for _, tg in tfeats))
    return EventScores(
        n_truth_persistent=len(persistent),
        n_detected=len(dfeats),
        n_detected_persistent=len(det_p),
        recall_persistent=found / len(persistent) if persistent else 1.0,
        precision_persistent=good / len(det_p) if det_p else 1.0,
        first_seen_exact=exact / found if found else float("nan"),
        matched=found,
    )
