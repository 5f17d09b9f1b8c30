"""``sitewatch demo``: the simulated Sohae station, run, assessed and reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sitewatch.cli import app


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "demo"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--size", "160"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_demo_writes_the_run_the_assessment_and_the_report(demo_run) -> None:
    out, output = demo_run
    run = out / "run"
    for name in ("events.geojson", "timeline.csv", "run.json", "assessment.json",
                 "status.csv", "report.html", "results.json"):  # fmt: skip
        assert (run / name).is_file(), name
    assert (out / "scenario" / "truth" / "events.geojson").is_file()
    assert f"Report: {run / 'report.html'}" in output
    assessment = json.loads((run / "assessment.json").read_text())
    assert assessment["status"] in {"quiet", "activity", "elevated", "high"}
    assert assessment["summary"] and assessment["summary"].split()[0] == "As"
    import pystac

    results = pystac.ItemCollection.from_dict(json.loads((run / "results.json").read_text()))
    assert results.items[-1].id.endswith("-run") and len(results.items) > 10
    assert any(i.properties.get("sitewatch:sensor") == "sar" for i in results.items)
    html = (run / "report.html").read_text()
    assert "data:image/png;base64," in html and "http://" not in html.split("<body")[1]


def test_demo_finds_the_rebuilding_at_the_test_stand(demo_run) -> None:
    out, output = demo_run
    events = json.loads((out / "run" / "events.geojson").read_text())["features"]
    rebuilt = [
        f["properties"] for f in events
        if f["properties"]["zone"] in {"engine_test_stand", "rail_transfer"}
        and f["properties"]["first_seen"] >= "2019-02-01"
        and f["properties"]["kind"] != "transient"
    ]  # fmt: skip
    assert rebuilt, output
    assert "engine_test_stand" in output
