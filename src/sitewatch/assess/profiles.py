"""Indicator profiles: YAML data files that say what to look for at a site.

A profile is a mapping with ``name``, optional ``description``, optional
``missing_zones`` (``error``, the default, or ``skip``) and ``indicators``, a
list of mappings with these keys:

``name`` (str, unique in the profile)
``description`` (str, optional)
``signal``
    One of :data:`SIGNALS` (see :mod:`sitewatch.assess.engine` for what each measures).
``zones``
    A list of zone names (each evaluated on its own), ``any`` (every zone of the
    site, each on its own) or ``site`` (the whole site at once, zone or not).
    ``zones_active`` counts over its zones, so it takes a list or ``any``.
``window_days`` (int > 0)
    The signal looks at acquisitions dated in ``(as_of - window_days, as_of]``.
``threshold`` (number > 0)
    Triggered when the value is at least this.
``level``
    ``activity``, ``elevated`` or ``high``: the status it raises the site to.
``kinds`` (list of event kinds, event signals only; default all but ``transient``)
``persistent`` (bool, event signals and ``activity_anomaly``; default false)
    Count an event only once a later clear look confirmed it by the date; for
    ``activity_anomaly``, count only the dates such events (of ``kinds``, which
    it then takes too) were first seen or grew on.
``min_area_m2`` (number >= 0; default 0)
    Ignore events smaller than this (as of the date); for ``activity_anomaly``,
    dates whose changed area in the zone is smaller: a handful of pixels in a
    small zone can make a large z without being a burst of anything.

A zone named in a profile must be a zone of the site the profile is applied to
(:meth:`Profile.check_site`), unless ``missing_zones: skip``, which the
built-in profiles use so that one launch-site profile fits sites with fewer
zones. A site without zones gets only the ``site`` indicators.

Every problem raises :class:`ProfileError` naming the file, the line and the
reason. Built-in profiles (:data:`BUILTIN_PROFILES`) ship as package data;
their alert indicators carry a false-alarm rate from ``false_alarms.yaml``
(measured on the ``quiet`` scenario by ``benchmarks/assess_scenarios.py``),
matched by the indicator's :attr:`Indicator.fingerprint` so an edited copy
never inherits a rate measured for other thresholds.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeAlias

import yaml

from ..errors import ProfileError
from ..models import STATUS_LEVELS, Site, StatusLevel

__all__ = [
    "BUILTIN_PROFILES",
    "EVENT_SIGNALS",
    "SIGNALS",
    "Indicator",
    "Profile",
    "ZoneScope",
    "load_false_alarm_rates",
    "load_profile",
    "parse_profile",
]

BUILTIN_PROFILES = ("launch_site", "construction", "generic")
#: signals computed from events
EVENT_SIGNALS = (
    "changed_area_m2",
    "event_count",
    "growth_rate_m2_per_day",
    "zones_active",
    "transient_count",
)
SIGNALS = (*EVENT_SIGNALS, "activity_anomaly")
EVENT_KINDS = ("appeared", "disappeared", "modified", "transient")
ALERT_LEVELS: tuple[StatusLevel, ...] = ("activity", "elevated", "high")
_DEFAULT_KINDS = frozenset({"appeared", "disappeared", "modified"})
_TOP_KEYS = ("name", "description", "missing_zones", "indicators")
_REQUIRED = ("name", "signal", "zones", "window_days", "threshold", "level")
_OPTIONAL = ("description", "kinds", "persistent", "min_area_m2")
_RATES_FILE = "false_alarms.yaml"

ZoneScope: TypeAlias = tuple[str, ...] | Literal["any", "site"]


@dataclass(frozen=True)
class Indicator:
    """One indicator of a profile (see the module notes for each field).

    ``line`` and ``zones_line`` are 1-based lines in the profile's file, kept
    so that a later check against a site can point at the right place.
    """

    name: str
    signal: str
    zones: ZoneScope
    window_days: int
    threshold: float
    level: StatusLevel
    kinds: frozenset[str] = _DEFAULT_KINDS
    persistent: bool = False
    min_area_m2: float = 0.0
    description: str = ""
    line: int = 0
    zones_line: int = 0
    false_alarm_rate: float | None = None

    @property
    def fingerprint(self) -> str:
        """Short hash of everything that decides when the indicator triggers."""
        zones = self.zones if isinstance(self.zones, str) else list(self.zones)
        spec = [self.signal, zones, self.window_days, self.threshold, sorted(self.kinds),
                self.persistent, self.min_area_m2]  # fmt: skip
        return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Profile:
    """A named set of indicators, read from ``source``."""

    name: str
    indicators: tuple[Indicator, ...]
    description: str = ""
    missing_zones: Literal["error", "skip"] = "error"
    source: str = "<string>"
    rates: Mapping[str, float] = field(default_factory=dict)

    def check_site(self, site: Site) -> None:
        """Refuse zones the site lacks (unless ``missing_zones: skip`` or the site has none)."""
        if self.missing_zones == "skip" or not site.zones:
            return
        known = set(site.zone_names)
        for ind in self.indicators:
            if isinstance(ind.zones, str):
                continue
            unknown = [z for z in ind.zones if z not in known]
            if unknown:
                raise ProfileError(
                    f"{self.source}, line {ind.zones_line}: indicator {ind.name!r} names zone "
                    f"{unknown[0]!r}, which site {site.name!r} does not have (its zones: "
                    f"{', '.join(site.zone_names)}); fix the name, use 'any', or set "
                    "'missing_zones: skip'"
                )


def load_profile(name_or_path: str | Path) -> Profile:
    """A built-in profile by name, or a profile YAML file by path.

    Raises
    ------
    ProfileError
        Unknown name, unreadable file, or invalid content (file, line and reason).
    """
    text: str
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_PROFILES:
        ref = resources.files("sitewatch.assess").joinpath(f"{name_or_path}.yaml")
        text, source = ref.read_text(encoding="utf-8"), f"{name_or_path}.yaml (built-in)"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ProfileError(
                f"profile: {str(name_or_path)!r} is neither a built-in profile "
                f"({', '.join(BUILTIN_PROFILES)}) nor an existing file; give one of those names "
                "or the path to a profile YAML file"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(
                f"profile: cannot read {path} ({exc}); give a UTF-8 YAML file"
            ) from None
        source = str(path)
    return parse_profile(text, source, rates=load_false_alarm_rates())


def load_false_alarm_rates() -> dict[str, float]:
    """Measured false-alarm rates of the built-in indicators, keyed by fingerprint."""
    ref = resources.files("sitewatch.assess").joinpath(_RATES_FILE)
    if not ref.is_file():
        return {}
    data = yaml.safe_load(ref.read_text(encoding="utf-8")) or {}
    return {str(k): float(v["rate"]) for k, v in (data.get("rates") or {}).items()}


# --- parsing ----------------------------------------------------------------------


class _Reader:
    """Builds values from a YAML node tree so every error can cite its line."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self._loader = yaml.SafeLoader(text)
        try:
            self.root = self._loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 0
            raise ProfileError(
                f"{source}, line {line}: not valid YAML ({exc.problem}); fix the syntax there"
            ) from None
        except yaml.YAMLError as exc:
            raise ProfileError(f"{source}: not valid YAML ({exc}); fix the syntax") from None
        finally:
            self._loader.dispose()

    def fail(self, node: yaml.Node | None, reason: str) -> ProfileError:
        line = node.start_mark.line + 1 if node is not None else 1
        return ProfileError(f"{self.source}, line {line}: {reason}")

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} should be a mapping of keys to values")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for k, v in node.value:
            key = self.scalar(k)
            if not isinstance(key, str):
                raise self.fail(k, f"key {key!r} of {what} is not a name; use a text key")
            if key in out:
                raise self.fail(k, f"key {key!r} appears twice in {what}; keep one")
            out[key] = (k, v)
        return out

    def scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return node
        return self._loader.construct_object(node, deep=True)

    def text(self, node: yaml.Node, what: str) -> str:
        v = self.scalar(node)
        if not isinstance(v, str) or not v.strip():
            raise self.fail(node, f"{what} should be a non-empty text, got {_shown(v)}")
        return v

    def number(self, node: yaml.Node, what: str, positive: bool = False) -> float:
        v = self.scalar(node)
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
        if not ok or v < 0 or (positive and v == 0):
            bound = "> 0" if positive else ">= 0"
            raise self.fail(node, f"{what} should be a number {bound}, got {_shown(v)}")
        return float(v)

    def names(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise self.fail(node, f"{what} should be a non-empty list of names")
        return [(self.text(n, f"each item of {what}"), n) for n in node.value]


def _shown(v: Any) -> str:
    if isinstance(v, yaml.Node):
        return "a list" if isinstance(v, yaml.SequenceNode) else "a mapping"
    return f"{v!r} ({type(v).__name__})"


def parse_profile(
    text: str, source: str = "<string>", rates: Mapping[str, float] | None = None
) -> Profile:
    """Parse and validate a profile's YAML text.

    Parameters
    ----------
    text
        The YAML document.
    source
        Named in error messages (the file path).
    rates
        False-alarm rates by :attr:`Indicator.fingerprint`, attached where they match.
    """
    r = _Reader(text, source)
    if r.root is None:
        raise ProfileError(f"{source}, line 1: the profile is empty; give name and indicators")
    top = r.mapping(r.root, "the profile")
    for key, (knode, _) in top.items():
        if key not in _TOP_KEYS:
            raise r.fail(knode, f"unknown key {key!r} in the profile; use {', '.join(_TOP_KEYS)}")
    for key in ("name", "indicators"):
        if key not in top:
            raise r.fail(r.root, f"the profile has no {key!r}; add it")
    name = r.text(top["name"][1], "name")
    description = r.text(top["description"][1], "description") if "description" in top else ""
    missing: Literal["error", "skip"] = "error"
    if "missing_zones" in top:
        node = top["missing_zones"][1]
        value = r.scalar(node)
        if value not in ("error", "skip"):
            raise r.fail(node, f"missing_zones should be 'error' or 'skip', got {_shown(value)}")
        missing = value
    inode = top["indicators"][1]
    if not isinstance(inode, yaml.SequenceNode) or not inode.value:
        raise r.fail(inode, "indicators should be a non-empty list of indicator mappings")
    indicators: list[Indicator] = []
    for node in inode.value:
        ind = _indicator(r, node)
        if any(i.name == ind.name for i in indicators):
            raise r.fail(node, f"indicator name {ind.name!r} is used twice; give each its own")
        rate = (rates or {}).get(ind.fingerprint)
        indicators.append(Indicator(**{**ind.__dict__, "false_alarm_rate": rate}))
    return Profile(name, tuple(indicators), description, missing, source, dict(rates or {}))


def _indicator(r: _Reader, node: yaml.Node) -> Indicator:
    m = r.mapping(node, "an indicator")
    allowed = (*_REQUIRED, *_OPTIONAL)
    for key, (knode, _) in m.items():
        if key not in allowed:
            raise r.fail(knode, f"unknown key {key!r} in an indicator; use {', '.join(allowed)}")
    for key in _REQUIRED:
        if key not in m:
            raise r.fail(node, f"the indicator has no {key!r}; add it")
    name = r.text(m["name"][1], "name")
    what = f"indicator {name!r}"
    snode = m["signal"][1]
    signal = r.scalar(snode)
    if signal not in SIGNALS:
        raise r.fail(snode, f"{what}: unknown signal {_shown(signal)}; use {', '.join(SIGNALS)}")
    if signal == "activity_anomaly" and "kinds" in m:
        # kinds pick the settled events a row must be backed by: only persistent: true asks that
        if "persistent" not in m or r.scalar(m["persistent"][1]) is not True:
            raise r.fail(m["kinds"][0], f"{what}: kinds applies to activity_anomaly only with "
                                        "persistent: true; add it or remove kinds")  # fmt: skip
    znode = m["zones"][1]
    zones: ZoneScope
    if isinstance(znode, yaml.ScalarNode):
        scope = r.scalar(znode)
        if scope not in ("any", "site"):
            raise r.fail(znode, f"{what}: zones should be a list of zone names, 'any' or 'site', "
                                f"got {_shown(scope)}")  # fmt: skip
        zones = scope
    else:
        listed = r.names(znode, f"{what}: zones")
        for z, n in listed:
            if z == "_site":
                raise r.fail(n, f"{what}: '_site' is not a zone; use zones: site")
        zones = tuple(dict.fromkeys(z for z, _ in listed))
    if signal == "zones_active" and zones == "site":
        raise r.fail(znode, f"{what}: zones_active counts zones; give a list of zones or 'any'")
    wnode = m["window_days"][1]
    window = r.scalar(wnode)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise r.fail(wnode, f"{what}: window_days should be a whole number of days >= 1, "
                            f"got {_shown(window)}")  # fmt: skip
    # A zero threshold would trigger on every date: nothing could ever be quiet.
    threshold = r.number(m["threshold"][1], f"{what}: threshold", positive=True)
    lnode = m["level"][1]
    level = r.scalar(lnode)
    if level not in ALERT_LEVELS:
        raise r.fail(lnode, f"{what}: level should be one of {', '.join(ALERT_LEVELS)}, "
                            f"got {_shown(level)}")  # fmt: skip
    assert level in STATUS_LEVELS
    kinds = _DEFAULT_KINDS
    if signal == "transient_count":
        kinds = frozenset({"transient"})
    if "kinds" in m:
        if signal == "transient_count":
            raise r.fail(m["kinds"][0], f"{what}: transient_count counts transient events only; "
                                        "remove 'kinds'")  # fmt: skip
        listed_kinds = r.names(m["kinds"][1], f"{what}: kinds")
        for k, n in listed_kinds:
            if k not in EVENT_KINDS:
                raise r.fail(n, f"{what}: unknown event kind {k!r}; use {', '.join(EVENT_KINDS)}")
        kinds = frozenset(k for k, _ in listed_kinds)
    persistent = False
    if "persistent" in m:
        pnode = m["persistent"][1]
        persistent = r.scalar(pnode)
        if not isinstance(persistent, bool):
            raise r.fail(pnode, f"{what}: persistent should be true or false, "
                                f"got {_shown(persistent)}")  # fmt: skip
    min_area = r.number(m["min_area_m2"][1], f"{what}: min_area_m2") if "min_area_m2" in m else 0.0
    desc = r.text(m["description"][1], f"{what}: description") if "description" in m else ""
    return Indicator(
        name=name, signal=signal, zones=zones, window_days=window, threshold=threshold,
        level=level, kinds=kinds, persistent=persistent, min_area_m2=min_area,
        description=desc, line=node.start_mark.line + 1, zones_line=znode.start_mark.line + 1,
    )  # fmt: skip
