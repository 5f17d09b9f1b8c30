"""Plain-sentence summary of an evaluation: zones, dates, areas, event ids, baselines."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ..models import STATUS_LEVELS, Site
from .engine import Evaluation, Finding
from .profiles import Profile

__all__ = ["summarize", "zone_label"]

# How analysts name the well-known zones in prose; other names lose their underscores.
_ZONE_LABELS = {
    "launch_pad": "launch pad",
    "gantry": "gantry",
    "engine_test_stand": "engine test stand",
    "rail_transfer": "rail-mounted transfer structure",
    "assembly_building": "assembly building",
    "propellant_storage": "propellant storage",
    "support": "support area",
}
_KIND_WORDS = {
    "appeared": "new structures",
    "disappeared": "removed structures",
    "modified": "modified ground or structures",
    "transient": "transient objects",
    "pending": "change awaiting confirmation",
}
_MAX_IDS = 6
_ALERT = ("elevated", "high")


def zone_label(zone: str | None) -> str:
    """``the engine test stand``, ``the site`` for None."""
    if zone is None:
        return "the site"
    return "the " + _ZONE_LABELS.get(zone, zone.replace("_", " "))


def summarize(
    profile: Profile, site: Site, ev: Evaluation, history: Sequence[Evaluation] = ()
) -> str:
    """Sentences on the status and each triggered indicator, alert levels first.

    ``history`` (the evaluations of earlier dates, oldest first) adds a sentence on
    the alert period under way (when it started and where), or, when the site is
    below ``elevated`` now, on its last alert period; and one on the strongest
    past alert period when it peaked higher, so that a late minor alert does not
    hide the main one.
    """
    parts = [
        f"As of {ev.date.isoformat()}, {site.name} is at status {ev.status} "
        f"(score {ev.score:.2f}) under the {profile.name} profile."
    ]
    if not site.zones:
        parts.append("The site has no zones, so only site-wide indicators were evaluated.")
    fired = [f for f in ev.findings if f.result.triggered]
    if not fired:
        windows = sorted({i.window_days for i in profile.indicators})
        parts.append(
            f"No indicator reached its threshold within its window ({_days(windows)} days)."
        )
        parts += _past_alerts(history, ev)
        return " ".join(parts)
    fired.sort(key=lambda f: (-STATUS_LEVELS.index(f.result.level), f.result.name,
                              f.result.zone or ""))  # fmt: skip
    cited: set[tuple[str, str | None]] = set()
    for f in fired:
        # A lower-level indicator on the same signal and zone restates the same events.
        key = (f.result.signal, f.result.zone)
        if key not in cited:
            cited.add(key)
            parts.append(_sentence(f))
    if ev.capped:
        parts.append(
            "The high-level evidence is not yet corroborated by a second indicator or zone, "
            "so the status stays elevated."
        )
    parts += _past_alerts(history, ev)
    return " ".join(parts)


def _alert_periods(
    history: Sequence[Evaluation], now: Evaluation
) -> tuple[list[list[Evaluation]], list[Evaluation]]:
    """Runs of consecutive ``elevated``/``high`` dates: the past ones, oldest first, and
    the current one (the run that reaches ``now``, which it includes; empty when calm)."""
    runs: list[list[Evaluation]] = []
    run: list[Evaluation] = []
    for e in [*(e for e in history if e.date < now.date), now]:
        if e.status in _ALERT:
            run.append(e)
        elif run:
            runs.append(run)
            run = []
    return runs, run


def _peak(period: Sequence[Evaluation]) -> str:
    return max((e.status for e in period), key=STATUS_LEVELS.index)


def _where(period: Sequence[Evaluation]) -> str:
    zones = sorted({
        f.result.zone for e in period for f in e.findings
        if f.result.triggered and f.result.level in _ALERT and f.result.zone
    })  # fmt: skip
    return f", at {_join(zone_label(z) for z in zones)}" if zones else ""


def _period_sentence(which: str, period: Sequence[Evaluation]) -> str:
    return (
        f"The {which} alert period ran from {period[0].date.isoformat()} to "
        f"{period[-1].date.isoformat()} (peak: {_peak(period)}){_where(period)}."
    )


def _past_alerts(history: Sequence[Evaluation], now: Evaluation) -> list[str]:
    """Sentences on the alert period under way (since when, where), or else on the last
    past one, and on the strongest past one when a later, weaker alert would hide it."""
    periods, current = _alert_periods(history, now)
    out = []
    shown = current
    if len(current) > 1:
        out.append(
            f"The current alert period began on {current[0].date.isoformat()} "
            f"(peak so far: {_peak(current)}){_where(current)}."
        )
    elif not current and periods:
        shown = periods[-1]
        periods = periods[:-1]
        out.append(_period_sentence("last", shown))
    if periods:
        floor = STATUS_LEVELS.index(_peak(shown) if shown else "quiet")
        levels = [STATUS_LEVELS.index(_peak(p)) for p in periods]
        top = max(levels)
        if top > floor:
            # the most recent of the strongest periods
            strongest = max(i for i, level in enumerate(levels) if level == top)
            out.append(_period_sentence("strongest", periods[strongest]))
    return out


def _join(items: Iterable[str]) -> str:
    xs = list(items)
    return xs[0] if len(xs) == 1 else ", ".join(xs[:-1]) + " and " + xs[-1]


def _days(windows: Sequence[int]) -> str:
    return ", ".join(str(w) for w in windows)


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:_MAX_IDS])
    more = len(ids) - _MAX_IDS
    word = "event" if len(ids) == 1 else "events"
    return f"{word} {shown}" + (f" and {more} more" if more > 0 else "")


def _plural(n: float, word: str) -> str:
    """``1 event``, ``3 events``."""
    return f"{n:.0f} {word}" + ("" if round(n) == 1 else "s")


def _bracket(f: Finding) -> str:
    if f.start is None or f.end is None:
        return ""
    if f.start == f.end:
        return f" on {f.end.isoformat()}"
    return f" between {f.start.isoformat()} and {f.end.isoformat()}"


def _baseline(f: Finding) -> str:
    whose = "zone" if f.result.zone else "site"
    if math.isfinite(f.baseline_ratio):
        return f", {f.baseline_ratio:.1f} times the {whose}'s median activity"
    # A quiet zone's median is nil; its mean still gives a scale when anything happened.
    if math.isfinite(f.mean_ratio):
        return f", {f.mean_ratio:.1f} times the {whose}'s mean activity before"
    if f.baseline_mean == 0 and math.isfinite(f.window_activity):
        return f", where the {whose} showed no change before"
    return ""


def _rate(f: Finding) -> str:
    far = f.result.false_alarm_rate
    if far is None or f.result.level == "activity":
        return ""
    return f" (this indicator triggered on {far:.1%} of dates of the quiet scenario)"


def _sentence(f: Finding) -> str:
    r = f.result
    where = zone_label(r.zone)
    ids = f" ({_ids(r.evidence)})" if r.evidence else ""
    head = f"{r.name.replace('_', ' ').capitalize()} ({r.level}): "
    if r.signal == "changed_area_m2":
        what = " and ".join(_KIND_WORDS.get(k, k) for k in f.kinds) or "change"
        body = f"{r.value:,.0f} m2 of {what} at {where}{_bracket(f)}{ids}{_baseline(f)}"
    elif r.signal == "event_count":
        body = f"{_plural(r.value, 'event')} at {where}{_bracket(f)}{ids}{_baseline(f)}"
    elif r.signal == "transient_count":
        body = (f"{_plural(r.value, 'transient change')} (vehicles, cranes or equipment) at "
                f"{where}{_bracket(f)}{ids}")  # fmt: skip
    elif r.signal == "growth_rate_m2_per_day":
        body = f"a change at {where} grew by {r.value:,.1f} m2 per day{_bracket(f)}{ids}"
    elif r.signal == "zones_active":
        names = ", ".join(zone_label(z) for z in f.zones)
        body = (f"{_plural(r.value, 'zone')} active within the same weeks ({names})"
                f"{_bracket(f)}{ids}")  # fmt: skip
    else:
        peak = f" on {f.peak_date.isoformat()}" if f.peak_date else ""
        body = (f"activity at {where}{peak} was {r.value:.1f} robust standard deviations above "
                f"its earlier dates{ids}{_baseline(f)}")  # fmt: skip
    return f"{head}{body} (threshold {r.threshold:g}){_rate(f)}."
