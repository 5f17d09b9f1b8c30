"""The assessment and report written after a run, for radar-only and mixed runs.

Tiny rasters in ``tmp_path`` (see test_pipeline_sar.py): a square 10 times
brighter in radar (and in optical, for the mixed run) from the third date on.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from rasterkit import textured, write_tif
from test_pipeline_sar import DATES, SIZE, radar_folder, radar_site, speckle

from sitewatch.evidence import assess_and_report, report_inputs
from sitewatch.pipeline import RunOptions, RunResult, run_site

SQUARE = (slice(20, 28), slice(20, 28))


def _radar_images() -> list[np.ndarray]:
    mean = np.full((SIZE, SIZE), 0.05)
    bright = mean.copy()
    bright[SQUARE] *= 10.0
    return [speckle(i, bright if i >= 2 else mean) for i in range(len(DATES))]


def _run(tmp_path: Path, optical: bool) -> RunResult:
    folder = radar_folder(tmp_path / "images", _radar_images())
    if optical:
        for i, day in enumerate(DATES):
            data = textured((4, SIZE, SIZE), seed=7, base=1200.0, spread=150.0)
            data += np.random.default_rng(i).normal(0.0, 10.0, data.shape)
            if i >= 2:
                data[(3, *SQUARE)] += 1500.0  # vegetation: nir up, red down (not cloud-like)
                data[(2, *SQUARE)] -= 600.0
            write_tif(folder / f"{day}.tif", data.astype("uint16"), nodata=0,
                      descriptions=["blue", "green", "red", "nir"])  # fmt: skip
    return run_site(radar_site(tmp_path), folder, tmp_path / "run", RunOptions(enl=4.4))


def test_radar_only_run_gets_a_report_with_radar_chips(tmp_path: Path) -> None:
    result = _run(tmp_path, optical=False)
    assert result.series is None and result.radar is not None and result.events
    evidence = assess_and_report(result, "generic")
    html = evidence.files["report.html"].read_text()
    assert "Radar image of 2019-01-25" in html
    carded = re.findall(r'id="card-(e\d+)"', html)
    assert carded
    chips = {p.name for p in (tmp_path / "run" / "chips").iterdir()}
    assert {f"{carded[0]}_before.png", f"{carded[0]}_after.png"} <= chips
    assert not any("_sar_" in name for name in chips)  # radar is the main pair here
    assert "<dt>seen by</dt><dd>radar</dd>" in html


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return _run(tmp_path_factory.mktemp("mixed"), optical=True)


def test_mixed_run_passes_both_series_and_every_scene(mixed: RunResult) -> None:
    result = mixed
    assert result.series is not None and result.radar is not None
    evidence = assess_and_report(result, "generic", report=False)
    inputs = report_inputs(result, evidence.assessment)
    assert inputs.series is not None and inputs.radar is not None
    assert inputs.radar.band_names == ("vv", "vh")
    assert inputs.radar.scene_ids == tuple(f"{d}_s1" for d in DATES)
    assert {s.sensor for s in inputs.scenes} == {"optical", "sar"}
    assert len(inputs.scenes) == 2 * len(DATES)
    assert "report.html" not in evidence.files


def test_mixed_run_report_shows_radar_beside_optical(mixed: RunResult) -> None:
    html = assess_and_report(mixed, "generic").files["report.html"].read_text()
    assert "Radar (VV, dB)" in html and "<b>Optical</b>" in html
    assert "<dt>seen by</dt><dd>optical, radar</dd>" in html  # one event, both sensors
    chips = {p.name for p in (mixed.out_dir / "chips").iterdir()}
    assert {"e0001_before.png", "e0001_sar_before.png", "e0001_sar_after.png"} <= chips
    assert "<td>radar</td>" in html and "<td>optical</td>" in html  # scenes table


def test_single_radar_date_is_reported_without_events(tmp_path: Path) -> None:
    folder = radar_folder(tmp_path / "images", [speckle(0)], DATES[:1])
    result = run_site(radar_site(tmp_path), folder, tmp_path / "run")
    evidence = assess_and_report(result, "generic")
    html = evidence.files["report.html"].read_text()
    assert evidence.assessment.status == "quiet"
    assert "Radar image of 2019-01-01 (scene 2019-01-01_s1" in html
    assert "No event was detected." in html
