"""Event scoring against the truth (``sitewatch.sim.score``)."""

from __future__ import annotations

from typing import Any

from shapely.geometry import box, mapping

from sitewatch.sim.score import score_events


def _fc(*items: tuple[Any, str, str]) -> dict[str, Any]:
    feats = [
        {"type": "Feature", "geometry": mapping(g), "properties": {"kind": k, "first_seen": d}}
        for g, k, d in items
    ]
    return {"type": "FeatureCollection", "features": feats}


def test_recall_precision_and_dates() -> None:
    truth = _fc(
        (box(0, 0, 1, 1), "appeared", "2020-01-01"),
        (box(5, 5, 6, 6), "disappeared", "2020-02-01"),
        (box(9, 9, 10, 10), "transient", "2020-03-01"),
    )
    found = _fc(
        (box(0.5, 0.5, 2, 2), "appeared", "2020-01-01"),  # overlaps the first
        (box(20, 20, 21, 21), "modified", "2020-01-01"),  # false
        (box(9, 9, 10, 10), "transient", "2020-03-01"),
    )
    s = score_events(truth, found)
    assert s.n_truth_persistent == 2 and s.matched == 1
    assert s.recall_persistent == 0.5
    assert s.precision_persistent == 0.5
    assert s.first_seen_exact == 1.0
    assert s.n_detected == 3 and s.n_detected_persistent == 2


def test_empty_detection() -> None:
    s = score_events(_fc((box(0, 0, 1, 1), "appeared", "2020-01-01")), _fc())
    assert s.recall_persistent == 0.0 and s.precision_persistent == 1.0


def test_an_unconfirmed_detection_is_not_counted_as_persistent() -> None:
    truth = _fc((box(0, 0, 1, 1), "appeared", "2020-01-01"))
    found = _fc(
        (box(0, 0, 1, 1), "appeared", "2020-01-01"),
        (box(20, 20, 21, 21), "appeared", "2020-05-01"),  # false, but not yet re-observed
    )
    found["features"][1]["properties"]["confirmed"] = False
    s = score_events(truth, found)
    assert s.recall_persistent == 1.0 and s.precision_persistent == 1.0
    assert s.n_detected == 2 and s.n_detected_persistent == 1
    found["features"][1]["properties"]["confirmed"] = True
    assert score_events(truth, found).precision_persistent == 0.5
