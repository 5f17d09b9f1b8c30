"""Indicator profiles: packaged files, validation with file, line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from assesskit import make_site

from sitewatch.assess.profiles import (
    BUILTIN_PROFILES,
    SIGNALS,
    load_false_alarm_rates,
    load_profile,
    parse_profile,
)
from sitewatch.errors import ProfileError

GOOD = """\
name: mine
indicators:
  - name: big
    signal: changed_area_m2
    zones: [launch_pad]
    persistent: true
    window_days: 30
    threshold: 150
    level: high
"""


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_packaged_profiles_load(name: str) -> None:
    p = load_profile(name)
    assert p.name == name
    assert p.indicators and all(i.signal in SIGNALS for i in p.indicators)
    assert p.source.startswith(f"{name}.yaml")
    assert all(i.line > 0 for i in p.indicators)


def test_launch_site_covers_what_analysts_look_for() -> None:
    p = load_profile("launch_site")
    signals = {i.signal for i in p.indicators}
    assert {"changed_area_m2", "activity_anomaly", "zones_active", "transient_count"} <= signals
    zones = {z for i in p.indicators if not isinstance(i.zones, str) for z in i.zones}
    assert {"launch_pad", "gantry", "rail_transfer", "engine_test_stand"} <= zones
    assert any(i.level == "high" for i in p.indicators)


def test_parse_good_profile() -> None:
    p = parse_profile(GOOD, "mine.yaml")
    (ind,) = p.indicators
    assert (ind.name, ind.zones, ind.persistent, ind.threshold, ind.line) == (
        "big", ("launch_pad",), True, 150.0, 3
    )
    assert ind.kinds == {"appeared", "disappeared", "modified"}
    assert p.missing_zones == "error"


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("signal: changed_area_m2", "signal: vibes", r"mine\.yaml, line 4: .*signal 'vibes'"),
        ("    level: high", "    level: high\n    colour: red", r"line 10: unknown key 'colour'"),
        ("threshold: 150", "threshold: lots", r"line 8: .*threshold should be a number > 0"),
        ("threshold: 150", "threshold: 0", r"line 8: .*threshold should be a number > 0"),
        ("window_days: 30", "window_days: 2.5", r"line 7: .*window_days should be a whole"),
        ("level: high", "level: critical", r"line 9: .*level should be one of"),
        ("persistent: true", "persistent: 'yes'", r"line 6: .*persistent should be true or false"),
        ("zones: [launch_pad]", "zones: everywhere", r"line 5: .*'any' or 'site'"),
        ("zones: [launch_pad]", "zones: [_site]", r"line 5: .*'_site' is not a zone"),
        ("zones: [launch_pad]", "zones: [launch_pad", r"line \d+: not valid YAML"),
        ("name: mine\n", "", r"line 1: the profile has no 'name'"),
        ("    window_days: 30\n", "", r"line 3: the indicator has no 'window_days'"),
        ("    persistent: true", "    kinds: [built]", r"line 6: .*unknown event kind 'built'"),
        ("name: mine", "name: mine\nversion: 2", r"line 2: unknown key 'version' in the profile"),
    ],
)
def test_bad_profile_names_line_and_reason(old: str, new: str, match: str) -> None:
    text = GOOD.replace(old, new, 1)
    assert text != GOOD
    with pytest.raises(ProfileError, match=match):
        parse_profile(text, "mine.yaml")


def test_anomaly_signal_takes_kinds_only_when_persistent() -> None:
    text = GOOD.replace("signal: changed_area_m2", "signal: activity_anomaly")
    assert parse_profile(text, "mine.yaml").indicators[0].persistent
    kinds = text.replace("    persistent: true\n", "    kinds: [appeared]\n")
    with pytest.raises(ProfileError, match=r"line 6: .*kinds applies to activity_anomaly only"):
        parse_profile(kinds, "mine.yaml")
    both = text.replace("    persistent: true\n", "    persistent: true\n    kinds: [appeared]\n")
    assert parse_profile(both, "mine.yaml").indicators[0].kinds == frozenset({"appeared"})


def test_duplicate_indicator_name() -> None:
    body = GOOD.split("indicators:\n", 1)[1]
    with pytest.raises(ProfileError, match=r"line 10: indicator name 'big' is used twice"):
        parse_profile(GOOD + body, "mine.yaml")


@pytest.mark.parametrize("text", ["", "just text", "- a\n- b\n"])
def test_not_a_profile(text: str) -> None:
    with pytest.raises(ProfileError, match=r"mine\.yaml, line 1: "):
        parse_profile(text, "mine.yaml")


def test_unknown_zone_for_the_site() -> None:
    p = parse_profile(GOOD.replace("[launch_pad]", "[launch_pad, lauch_pad]"), "mine.yaml")
    with pytest.raises(ProfileError, match=r"mine\.yaml, line 5: .*zone 'lauch_pad'.*its zones"):
        p.check_site(make_site())
    # built-in profiles skip zones a site lacks; a site without zones accepts anything
    load_profile("launch_site").check_site(make_site(("launch_pad",)))
    p.check_site(make_site(()))


def test_user_copy_by_path(tmp_path: Path) -> None:
    f = tmp_path / "copy.yaml"
    f.write_text(GOOD.replace("threshold: 150", "threshold: [1]"))
    with pytest.raises(ProfileError, match=rf"{f}, line 8: .*got a list"):
        load_profile(f)
    f.write_text(GOOD)
    assert load_profile(str(f)).indicators[0].name == "big"


def test_unknown_profile_name() -> None:
    with pytest.raises(ProfileError, match=r"'rocket' is neither a built-in profile"):
        load_profile("rocket")


def test_false_alarm_rate_follows_the_definition() -> None:
    fp = parse_profile(GOOD).indicators[0].fingerprint
    assert parse_profile(GOOD, rates={fp: 0.02}).indicators[0].false_alarm_rate == 0.02
    edited = parse_profile(GOOD.replace("150", "100"), rates={fp: 0.02})
    assert edited.indicators[0].false_alarm_rate is None


def test_packaged_rates_match_packaged_alert_indicators() -> None:
    rates = load_false_alarm_rates()
    alerts = [i for n in BUILTIN_PROFILES for i in load_profile(n).indicators
              if i.level != "activity"]  # fmt: skip
    assert all(i.fingerprint in rates for i in alerts)
    assert all(0.0 <= i.false_alarm_rate <= 1.0 for i in alerts if i.false_alarm_rate is not None)
