"""Read a run folder back for assessment, and write ``assessment.json`` and ``status.csv``.

``events.geojson`` holds what DESIGN.md lists; an event's settlement date and
growth are read from the optional properties ``confirmed``, ``confirmed_on``
and ``growth`` (``[{date, area_m2}]``) when the run wrote them. Without them
the earliest possible settlement is assumed: the first run date after
``first_seen`` (a candidate is settled at its next clear look, never sooner),
and the whole area counts from ``first_seen``.

``assessment.json`` follows DESIGN.md (``site, as_of, status, score,
indicators: [{name, zone, value, threshold, triggered, evidence}], summary``)
plus ``profile``, each indicator's ``signal``, ``level`` and
``false_alarm_rate``, and ``history``; ``status.csv`` is the same history as
``date, status, score`` rows. Both are written together, atomically.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, MissingFileError
from ..models import (
    STATUS_LEVELS,
    Assessment,
    GrowthStep,
    IndicatorResult,
    SensorKind,
    StatusPoint,
    ZoneTimelineRow,
)
from .writers import committed

__all__ = [
    "EventRecord",
    "RunRecord",
    "assessment_to_dict",
    "read_assessment",
    "read_events",
    "read_run",
    "read_timeline",
    "status_csv",
    "write_assessment",
]

_EVENT_KINDS = ("appeared", "disappeared", "modified", "transient")
_FIX = "give a folder written by sitewatch run"
# DESIGN.md's columns; later ones (e.g. ``sensor``) are read when present.
_TIMELINE_REQUIRED = (
    "date", "zone", "clear_fraction", "changed_fraction", "changed_area_m2",
    "activity_index", "anomaly_z",
)  # fmt: skip


@dataclass(frozen=True)
class EventRecord:
    """An event as ``events.geojson`` describes it (no footprint raster)."""

    event_id: str
    first_seen: dt.date
    last_unchanged: dt.date | None
    zone: str | None
    kind: str
    area_m2: float
    score: float
    p_value: float
    confirmed: bool
    confirmed_on: dt.date | None
    growth: tuple[GrowthStep, ...]


@dataclass(frozen=True)
class RunRecord:
    """What :func:`read_run` found in a run folder."""

    folder: Path
    site: str | None
    dates: tuple[dt.date, ...]
    events: tuple[EventRecord, ...]
    timeline: tuple[ZoneTimelineRow, ...]
    run_info: dict[str, Any] = field(default_factory=dict)


def _date(value: Any, what: str, where: Path) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(
            f"{where}: {what} {value!r} is not an ISO date (YYYY-MM-DD); fix or rewrite the run"
        ) from None


def _float(value: Any) -> float:
    return math.nan if value is None or value == "" else float(value)


def _sensor(value: str | None, line: int, where: Path) -> SensorKind:
    if value in (None, "", "optical"):
        return "optical"
    if value == "sar":
        return "sar"
    raise InputError(f"{where}, line {line}: sensor {value!r} is not 'optical' or 'sar'")


def read_timeline(path: str | Path) -> list[ZoneTimelineRow]:
    """Rows of a ``timeline.csv`` (empty fields are NaN)."""
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"timeline: {p} does not exist; {_FIX}")
    with p.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in _TIMELINE_REQUIRED if c not in (reader.fieldnames or ())]
        if missing:
            raise InputError(
                f"{p}: columns {reader.fieldnames} lack {', '.join(missing)}; "
                "give a timeline.csv written by sitewatch run"
            )
        rows = []
        for i, rec in enumerate(reader, start=2):
            try:
                rows.append(ZoneTimelineRow(
                    date=_date(rec["date"], f"line {i}: date", p), zone=rec["zone"],
                    clear_fraction=_float(rec["clear_fraction"]),
                    changed_fraction=_float(rec["changed_fraction"]),
                    changed_area_m2=_float(rec["changed_area_m2"]),
                    activity_index=_float(rec["activity_index"]),
                    anomaly_z=_float(rec["anomaly_z"]),
                    sensor=_sensor(rec.get("sensor"), i, p),
                ))  # fmt: skip
            except ValueError as exc:
                if isinstance(exc, InputError):
                    raise
                raise InputError(f"{p}, line {i}: {exc}; fix the number there") from None
    return rows


def read_events(path: str | Path, dates: Sequence[dt.date] = ()) -> list[EventRecord]:
    """Events of an ``events.geojson``.

    ``dates`` (the run's acquisition dates) give the assumed settlement of events
    written without ``confirmed_on`` (see the module notes).
    """
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"events: {p} does not exist; {_FIX}")
    try:
        fc = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not JSON ({exc}); {_FIX}") from None
    if not isinstance(fc, dict) or fc.get("type") != "FeatureCollection":
        raise InputError(f"{p}: not a GeoJSON FeatureCollection; give the run's events.geojson")
    ds = sorted(set(dates))
    out = []
    for i, feat in enumerate(fc.get("features") or []):
        props = feat.get("properties") or {}
        where = f"feature {i}"
        try:
            eid = str(props["event_id"])
            first = _date(props["first_seen"], f"{where}: first_seen", p)
            kind = str(props["kind"])
            area = float(props["area_m2"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{p}: {where} lacks a valid {exc} property; give an events.geojson written by "
                "sitewatch run"
            ) from None
        if kind not in _EVENT_KINDS:
            raise InputError(
                f"{p}: {where} has kind {kind!r}; use one of {', '.join(_EVENT_KINDS)}"
            )
        last = props.get("last_unchanged")
        growth = tuple(
            GrowthStep(_date(g["date"], f"{where}: growth date", p), float(g["area_m2"]))
            for g in props.get("growth") or ()
        )
        if "confirmed_on" in props or "confirmed" in props:
            on = props.get("confirmed_on")
            confirmed_on = _date(on, f"{where}: confirmed_on", p) if on else None
        else:
            confirmed_on = next((d for d in ds if d > first), None)
        out.append(EventRecord(
            event_id=eid, first_seen=first,
            last_unchanged=_date(last, f"{where}: last_unchanged", p) if last else None,
            zone=props.get("zone"), kind=kind, area_m2=area,
            score=_float(props.get("score")), p_value=_float(props.get("p_value")),
            confirmed=confirmed_on is not None, confirmed_on=confirmed_on,
            growth=growth or (GrowthStep(first, area),),
        ))  # fmt: skip
    return out


def read_run(folder: str | Path) -> RunRecord:
    """Events, timeline and ``run.json`` (when present) of a ``sitewatch run`` folder.

    The evaluation dates are the timeline's dates (one row per processed date).

    Raises
    ------
    MissingFileError
        The folder, its ``events.geojson`` or its ``timeline.csv`` is missing.
    InputError
        A file is malformed.
    """
    d = Path(folder)
    if not d.is_dir():
        raise MissingFileError(f"run folder: {d} does not exist; {_FIX}")
    for name in ("events.geojson", "timeline.csv"):
        if not (d / name).is_file():
            raise MissingFileError(
                f"run folder: {d} has no {name}; rerun sitewatch run into it (with --overwrite)"
            )
    timeline = read_timeline(d / "timeline.csv")
    dates = tuple(sorted({r.date for r in timeline}))
    info: dict[str, Any] = {}
    if (d / "run.json").is_file():
        try:
            info = json.loads((d / "run.json").read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{d / 'run.json'}: not JSON ({exc}); rerun sitewatch run") from None
    events = read_events(d / "events.geojson", dates)
    site = info.get("site") if isinstance(info.get("site"), str) else None
    return RunRecord(d, site, dates, tuple(events), tuple(timeline), info)


def _num(x: float, digits: int = 4) -> float | None:
    return round(float(x), digits) if math.isfinite(x) else None


def assessment_to_dict(a: Assessment) -> dict[str, Any]:
    """The JSON form of an assessment (NaN as null)."""
    return {
        "site": a.site,
        "profile": a.profile,
        "as_of": a.as_of.isoformat(),
        "status": a.status,
        "score": _num(a.score, 3),
        "indicators": [
            {
                "name": r.name, "zone": r.zone, "signal": r.signal, "value": _num(r.value),
                "threshold": r.threshold, "triggered": r.triggered, "level": r.level,
                "evidence": list(r.evidence), "false_alarm_rate": r.false_alarm_rate,
            }  # fmt: skip
            for r in a.indicators
        ],
        "summary": a.summary,
        "history": [
            {"date": p.date.isoformat(), "status": p.status, "score": _num(p.score, 3)}
            for p in a.history
        ],
    }


def status_csv(assessment: Assessment) -> str:
    """The status history as ``status.csv`` text: ``date, status, score``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("date", "status", "score"))
    for p in assessment.history:
        w.writerow((p.date.isoformat(), p.status, f"{p.score:.3f}"))
    return buf.getvalue()


def write_assessment(folder: str | Path, assessment: Assessment) -> dict[str, Path]:
    """Write ``assessment.json`` and ``status.csv`` into ``folder``, both or neither.

    A run writing its folder in one commit can instead pass
    :func:`assessment_to_dict` and :func:`status_csv` to ``OutputFolder``.
    """
    d = Path(folder)
    if not d.is_dir():
        raise MissingFileError(f"folder: {d} does not exist; give the run's output folder")
    paths = {"assessment.json": d / "assessment.json", "status.csv": d / "status.csv"}
    with committed() as commit:
        text = json.dumps(assessment_to_dict(assessment), indent=1) + "\n"
        commit.reserve(paths["assessment.json"]).write_text(text)
        commit.reserve(paths["status.csv"]).write_text(status_csv(assessment))
    return paths


def _level(value: Any, p: Path) -> Any:
    if value not in STATUS_LEVELS:
        raise InputError(f"{p}: status {value!r} is not one of {', '.join(STATUS_LEVELS)}")
    return value


def read_assessment(path: str | Path) -> Assessment:
    """An :class:`Assessment` from its ``assessment.json``."""
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"assessment: {p} does not exist; run the assessment first")
    try:
        obj = json.loads(p.read_text())
        return Assessment(
            site=obj["site"], profile=obj.get("profile", ""),
            as_of=_date(obj["as_of"], "as_of", p), status=_level(obj["status"], p),
            score=_float(obj["score"]),
            indicators=tuple(
                IndicatorResult(
                    name=r["name"], zone=r.get("zone"), signal=r.get("signal", ""),
                    value=_float(r.get("value")), threshold=float(r["threshold"]),
                    triggered=bool(r["triggered"]), level=_level(r.get("level", "activity"), p),
                    evidence=tuple(r.get("evidence") or ()),
                    false_alarm_rate=r.get("false_alarm_rate"),
                )
                for r in obj["indicators"]
            ),
            summary=obj["summary"],
            history=tuple(
                StatusPoint(_date(h["date"], "history date", p), _level(h["status"], p),
                            _float(h["score"]))
                for h in obj.get("history") or ()
            ),
        )  # fmt: skip
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{p}: not a valid assessment.json ({exc!r}); rewrite it") from None
