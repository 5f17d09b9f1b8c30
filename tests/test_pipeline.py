"""``sitewatch run``: the whole pipeline on small simulated scenarios, and its bad input.

The quality bounds asserted here are what the pipeline measures on these
128 px scenarios (seed 1), with a small margin; see benchmarks/run_scenarios.py
for the figures over more seeds and sizes.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from sitewatch import cli
from sitewatch.errors import (
    CatalogError,
    InputError,
    NoOverlapError,
    NoValidDataError,
    OutputError,
)
from sitewatch.io.outputs import TIMELINE_COLUMNS
from sitewatch.io.raster import Grid
from sitewatch.io.writers import write_geotiff
from sitewatch.pipeline import RunOptions, RunResult, run_site
from sitewatch.sim.scenarios import build_scenario
from sitewatch.sim.score import score_events
from sitewatch.sim.write import write_scenario

SIZE = 128
EVENT_KEYS = {
    "event_id": str, "first_seen": str, "last_unchanged": (str, type(None)),
    "zone": (str, type(None)), "kind": str, "area_m2": float, "score": float, "p_value": float,
    "sensors": list, "confirmed": bool, "confirmed_on": (str, type(None)), "growth": list,
}  # fmt: skip


def _scenario(root: Path, name: str, sar: bool = False) -> Path:
    out = root / name
    write_scenario(build_scenario(name, seed=1, size=SIZE), out, sar=sar)
    return out


@pytest.fixture(scope="module")
def sohae(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    base = _scenario(tmp_path_factory.mktemp("sim"), "sohae-2019")
    result = run_site(base / "site.geojson", base / "images", base / "run")
    return base, result


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    base = _scenario(tmp_path_factory.mktemp("sim"), "quiet")
    result = run_site(base / "site.geojson", base / "images", base / "run")
    return base, result


def run_main(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    """Call ``cli.main()`` as the console script would; return (code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["sitewatch", *args])
    monkeypatch.delenv("SITEWATCH_DEBUG", raising=False)
    with pytest.raises(SystemExit) as info:
        cli.main()
        raise SystemExit(0)
    out, err = capsys.readouterr()
    code = info.value.code
    return (0 if code is None else int(code)), out, err


# --------------------------------------------------------------------------- outputs


def test_run_writes_every_output(sohae: tuple[Path, RunResult]) -> None:
    base, result = sohae
    out = base / "run"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["change", "events.geojson", "run.json", "timeline.csv"]
    assert not [p for p in out.rglob("*") if ".part" in p.name]  # no temporary left
    n_dates = len(list((base / "images").glob("*.tif")))
    assert len(list((out / "change").glob("*.tif"))) == n_dates
    assert set(result.outputs) >= {"events.geojson", "timeline.csv", "run.json"}


def test_events_geojson_format(sohae: tuple[Path, RunResult]) -> None:
    base, result = sohae
    fc = json.loads((base / "run" / "events.geojson").read_text())
    assert fc["type"] == "FeatureCollection"
    assert len(fc["features"]) == len(result.events) > 0
    for f in fc["features"]:
        props = f["properties"]
        assert set(props) == set(EVENT_KEYS)
        for key, typ in EVENT_KEYS.items():
            assert isinstance(props[key], typ), (key, props[key])
        assert props["kind"] in ("appeared", "disappeared", "modified", "transient")
        assert 0.0 <= props["score"] <= 1.0 and 0.0 <= props["p_value"] <= 1.0
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        lon, lat = np.asarray(
            f["geometry"]["coordinates"][0] if f["geometry"]["type"] == "Polygon"
            else f["geometry"]["coordinates"][0][0]
        ).T  # fmt: skip
        assert (124 < lon).all() and (lon < 125.5).all() and (39 < lat).all() and (lat < 40).all()


def test_timeline_csv_format(sohae: tuple[Path, RunResult]) -> None:
    base, result = sohae
    with open(base / "run" / "timeline.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == TIMELINE_COLUMNS
    zones = ("_site", *result.site.zone_names)
    assert (
        len(rows) == len(result.timeline) == len(zones) * len(list((base / "images").glob("*.tif")))
    )
    site_rows = [r for r in rows if r["zone"] == "_site"]
    assert site_rows and all(0.0 <= float(r["clear_fraction"]) <= 1.0 for r in site_rows)
    assert any(r["changed_area_m2"] not in ("", "0") for r in site_rows)


def test_change_maps_are_two_band_cogs(sohae: tuple[Path, RunResult]) -> None:
    base, result = sohae
    path = sorted((base / "run" / "change").glob("*.tif"))[5]
    with rasterio.open(path) as ds:
        assert ds.count == 2 and ds.dtypes == ("uint8", "uint8") and ds.nodata == 255
        assert ds.crs.to_epsg() == int(result.grid.crs.split(":")[1])
        decision, p = ds.read()
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    assert set(np.unique(decision)) <= {0, 1, 255}
    assert ((decision == 255) == (p == 255)).all()


def test_run_json_records_inputs(sohae: tuple[Path, RunResult]) -> None:
    base, _ = sohae
    info = json.loads((base / "run" / "run.json").read_text())
    assert info["software"]["name"] == "sitewatch"
    assert info["parameters"]["alpha"] == 0.01
    assert len(info["scenes"]) == len(list((base / "images").glob("*.tif")))
    hashes = info["input_sha256"]
    assert str(base / "site.geojson") in hashes
    assert all(len(h) == 64 for h in hashes.values())


def test_persistent_events_are_found(sohae: tuple[Path, RunResult]) -> None:
    base, _ = sohae
    truth = json.loads((base / "truth" / "events.geojson").read_text())
    found = json.loads((base / "run" / "events.geojson").read_text())
    s = score_events(truth, found)
    # Measured at 128 px, seed 1: recall 6/7 (HEAD and in-progress 'auto' alike), but
    # precision only 0.15-0.22: at 128 px the true events (7-19 px) are below the
    # method's 25 px mapping unit, so matches come partly from larger detections.
    assert s.n_truth_persistent == 7
    assert s.recall_persistent >= 0.5


def test_quiet_gives_few_events(quiet: tuple[Path, RunResult]) -> None:
    _, result = quiet
    persistent = [e for e in result.events if e.kind != "transient"]
    # Measured at 128 px, seed 1: 29 events / 10 persistent (38 / 16 with the committed
    # 'auto'); the target is none.  This bound only catches a collapse.
    assert len(persistent) <= 24
    assert len(result.events) <= 60


# --------------------------------------------------------------------------- bad input


def _small_image(path: Path, value: int = 1500, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    data = (value + rng.integers(0, 400, (4, 64, 64))).astype("uint16")
    grid = Grid(64, 64, Affine(3, 0, 646100.0, 0, -3, 4391500.0), CRS.from_epsg(32651))
    write_geotiff(path, data, grid, ("blue", "green", "red", "nir"), nodata=0)


def test_cli_run_succeeds_and_refuses_existing_run(
    quiet: tuple[Path, RunResult], tmp_path: Path, monkeypatch, capsys
) -> None:
    base, _ = quiet
    images = tmp_path / "images"
    images.mkdir()
    for p in sorted((base / "images").glob("*.tif"))[:10]:
        shutil.copy(p, images / p.name)
    out = tmp_path / "out"
    code, stdout, _ = run_main(
        ["run", str(base / "site.geojson"), str(images), "--out", str(out)], monkeypatch, capsys
    )
    assert code == 0, stdout
    assert "events" in stdout and str(out) in stdout
    before = sorted(p.name for p in out.rglob("*"))
    code, _, err = run_main(
        ["run", str(base / "site.geojson"), str(images), "--out", str(out)], monkeypatch, capsys
    )
    assert code == 2 and err.startswith("error: --out") and len(err.splitlines()) == 1
    assert sorted(p.name for p in out.rglob("*")) == before
    code, _, _ = run_main(
        ["run", str(base / "site.geojson"), str(images), "--out", str(out), "--overwrite"],
        monkeypatch, capsys,
    )  # fmt: skip
    assert code == 0


def test_corrupt_file_is_skipped(
    quiet: tuple[Path, RunResult], tmp_path: Path, monkeypatch, capsys
) -> None:
    base, _ = quiet
    images = tmp_path / "images"
    images.mkdir()
    files = sorted((base / "images").glob("*.tif"))[:8]
    for p in files:
        shutil.copy(p, images / p.name)
    bad = images / files[3].name
    os.truncate(bad, bad.stat().st_size // 2)
    out = tmp_path / "out"
    code, _, err = run_main(
        ["run", str(base / "site.geojson"), str(images), "--out", str(out)], monkeypatch, capsys
    )
    assert code == 0
    assert f"warning: skipped {bad.stem}" in err
    info = json.loads((out / "run.json").read_text())
    assert [s["status"] for s in info["scenes"] if s["id"] == bad.stem] == ["skipped"]


def _expect_error(args: list[str], out: Path, pattern: str, monkeypatch, capsys) -> None:
    code, _, err = run_main([*args, "--out", str(out)], monkeypatch, capsys)
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and pattern in lines[0], lines
    assert not out.exists()  # nothing half-written


def test_empty_folder(quiet: tuple[Path, RunResult], tmp_path: Path, monkeypatch, capsys) -> None:
    base, _ = quiet
    (tmp_path / "empty").mkdir()
    args = ["run", str(base / "site.geojson"), str(tmp_path / "empty")]
    _expect_error(args, tmp_path / "out", "imagery", monkeypatch, capsys)
    with pytest.raises(CatalogError):
        run_site(base / "site.geojson", tmp_path / "empty", tmp_path / "out")


def test_no_dated_file(quiet: tuple[Path, RunResult], tmp_path: Path, monkeypatch, capsys) -> None:
    base, _ = quiet
    folder = tmp_path / "undated"
    folder.mkdir()
    _small_image(folder / "scene_a.tif")
    _small_image(folder / "scene_b.tif")
    args = ["run", str(base / "site.geojson"), str(folder)]
    _expect_error(args, tmp_path / "out", "date", monkeypatch, capsys)


@pytest.mark.parametrize(
    "text", ["not json at all", '{"type": "FeatureCollection", "features": []}']
)
def test_bad_site_file(
    quiet: tuple[Path, RunResult], tmp_path: Path, monkeypatch, capsys, text: str
) -> None:
    base, _ = quiet
    site = tmp_path / "site.geojson"
    site.write_text(text)
    args = ["run", str(site), str(base / "images")]
    _expect_error(args, tmp_path / "out", "site", monkeypatch, capsys)


def test_imagery_never_overlaps(
    quiet: tuple[Path, RunResult], tmp_path: Path, monkeypatch, capsys
) -> None:
    base, _ = quiet
    site = json.loads((base / "site.geojson").read_text())
    site["features"] = [f for f in site["features"] if f["properties"].get("role") == "site"]
    ring = site["features"][0]["geometry"]["coordinates"][0]
    site["features"][0]["geometry"]["coordinates"][0] = [[x + 0.5, y] for x, y in ring]
    far = tmp_path / "far.geojson"
    far.write_text(json.dumps(site))
    args = ["run", str(far), str(base / "images")]
    _expect_error(args, tmp_path / "out", "overlap", monkeypatch, capsys)
    with pytest.raises(NoOverlapError):
        run_site(far, base / "images", tmp_path / "out")


def test_every_scene_cloudy(
    quiet: tuple[Path, RunResult], tmp_path: Path, monkeypatch, capsys
) -> None:
    base, _ = quiet
    folder = tmp_path / "cloudy"
    folder.mkdir()
    grid = Grid(64, 64, Affine(3, 0, 646100.0, 0, -3, 4391500.0), CRS.from_epsg(32651))
    for i, day in enumerate(("2020-01-05", "2020-01-15", "2020-01-25")):
        _small_image(folder / f"{day}.tif", seed=i)
        write_geotiff(folder / f"{day}_SCL.tif", np.full((1, 64, 64), 9, np.uint8), grid)
    site = json.loads((base / "site.geojson").read_text())
    site["features"] = [f for f in site["features"] if f["properties"].get("role") == "site"]
    small = tmp_path / "site.geojson"
    small.write_text(json.dumps(site))
    args = ["run", str(small), str(folder)]
    _expect_error(args, tmp_path / "out", "clear", monkeypatch, capsys)
    with pytest.raises(NoValidDataError):
        run_site(small, folder, tmp_path / "out")


def test_options_are_checked(quiet: tuple[Path, RunResult], tmp_path: Path) -> None:
    base, _ = quiet
    with pytest.raises(ValueError):
        run_site(base / "site.geojson", base / "images", tmp_path / "o", RunOptions(alpha=2.0))
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError):
        run_site(base / "site.geojson", base / "images", tmp_path / "file")


# --------------------------------------------------------------------------- radar


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult, RunResult]:
    base = _scenario(tmp_path_factory.mktemp("sim"), "sohae-2019", sar=True)
    both = run_site(base / "site.geojson", base / "images", base / "run")
    radar = run_site(
        base / "site.geojson", base / "images", base / "run_sar", RunOptions(sensors="sar")
    )
    return base, both, radar


def test_radar_only_run_finds_what_radar_can_see(mixed) -> None:
    base, _, radar = mixed
    truth = json.loads((base / "truth" / "events_sar.geojson").read_text())
    truth["features"] = [f for f in truth["features"] if f["properties"]["sar_visible"]]
    found = json.loads((base / "run_sar" / "events.geojson").read_text())
    s = score_events(truth, found)
    assert s.recall_persistent >= 0.8 and s.precision_persistent >= 0.8
    assert all(e.sensors == ("sar",) for e in radar.events)
    assert {r.sensor for r in radar.timeline} == {"sar"}
    assert any(p.name.endswith("_sar.tif") for p in (base / "run_sar" / "change").iterdir())


def test_mixed_run_fuses_sensors_and_labels_the_timeline(mixed) -> None:
    base, both, _ = mixed
    assert {r.sensor for r in both.timeline} == {"optical", "sar"}
    assert any(e.sensors == ("optical", "sar") for e in both.events)
    fused = [e for e in both.events if len(e.sensors) == 2]
    assert all(0.0 <= e.score <= 1.0 for e in fused)
    rows = list(csv.reader((base / "run" / "timeline.csv").open()))
    assert rows[0][-1] == "sensor" and {r[-1] for r in rows[1:]} == {"optical", "sar"}
    ids = [e.event_id for e in both.events]
    assert ids == [f"e{i:04d}" for i in range(1, len(ids) + 1)]


def test_db_radar_declared_linear_is_refused(mixed, tmp_path: Path) -> None:
    base, _, _ = mixed
    src = sorted((base / "images").glob("*_s1.tif"))[:3]
    folder = tmp_path / "db"
    folder.mkdir()
    for f in src:
        with rasterio.open(f) as ds:
            profile, data = ds.profile, ds.read()
            desc = ds.descriptions
        with rasterio.open(folder / f.name, "w", **profile) as ds:
            ds.write(10 * np.log10(data))
            ds.descriptions = desc
    with pytest.raises(InputError, match="decibels"):
        run_site(base / "site.geojson", folder, tmp_path / "o", RunOptions(sar_scale="intensity"))
    out = run_site(base / "site.geojson", folder, tmp_path / "o2")  # auto: read as dB
    assert {r.sensor for r in out.timeline} == {"sar"}


def test_fit_blocks_cover_small_grids_and_spread_over_large_ones() -> None:
    from sitewatch.pipeline import FIT_PIXELS, _fit_blocks

    assert _fit_blocks(np.ones((100, 120), bool)) == [(slice(0, 100), slice(0, 120))]
    valid = np.ones((700, 700), bool)
    valid[:, :300] = False  # the west is outside the imagery
    blocks = _fit_blocks(valid)
    judged = sum(int(valid[b].sum()) for b in blocks)
    assert 0.9 * FIT_PIXELS <= judged <= FIT_PIXELS
    rows = {b[0].start for b in blocks}
    assert min(rows) < 100 and max(rows) > 500  # spread from north to south
    assert all(valid[b].mean() >= 0.5 for b in blocks)


def test_series_test_drops_the_coarsest_window_of_the_default_method_only() -> None:
    from sitewatch.change.registry import get_method
    from sitewatch.pipeline import _series_method

    auto = get_method("auto")
    series = _series_method(auto)
    assert auto.pixel_radii(3.0) == (2, 4, 8) and series.pixel_radii(3.0) == (2, 4)
    assert series.pixel_radii(10.0) == (1, 2)
    assert get_method("auto").pixel_radii(3.0) == (2, 4, 8)  # the shared instance is intact
    cva = get_method("cva")
    assert _series_method(cva) is cva


def test_brightness_anomaly_offset_comes_from_the_clear_sky() -> None:
    from sitewatch.pipeline import _brightness_anomaly

    rng = np.random.default_rng(0)
    median = rng.uniform(0.05, 0.2, (4, 60, 60)).astype(np.float32)
    scene = median + np.float32(0.01)  # a slightly brighter atmosphere everywhere
    scene[:, :, :45] += np.float32(0.4)  # three quarters of the site under cloud
    scene[:, 30:34, 50:54] -= np.float32(0.05)  # a new dark roof in the clear gap
    data = np.stack([median, scene])
    valid = np.ones((2, 60, 60), bool)
    clear = np.zeros((60, 60), bool)
    clear[:, 47:] = True
    a = _brightness_anomaly(data, valid, median, [1], [clear])[0]
    # unchanged clear ground reads as unchanged, the roof as darker by its own amount
    assert abs(float(np.median(a[:, 47:]))) < 1e-3
    assert float(a[30:34, 50:54].mean()) == pytest.approx(-0.05, abs=1e-3)
    # without clear pixels to go by, the offset falls back on every valid pixel (the cloud)
    b = _brightness_anomaly(data, valid, median, [1], [np.zeros((60, 60), bool)])[0]
    assert float(np.median(b[:, 47:])) < -0.3


@pytest.mark.parametrize(
    ("gain", "nir_noise", "normalised"),
    [(1.10, 0.002, True), (0.90, 0.002, True), (1.25, 0.002, True),
     (1.60, 0.002, False), (1.10, 0.12, False)],
)  # fmt: skip
def test_a_date_is_normalised_to_the_anchor_unless_the_fit_is_untrustworthy(
    gain: float, nir_noise: float, normalised: bool
) -> None:
    from sitewatch.pipeline import _normalised

    rng = np.random.default_rng(0)
    ref = rng.uniform(0.05, 0.5, (4, 60, 60)).astype(np.float32)
    roof = np.zeros((60, 60), bool)
    roof[20:30, 20:30] = True
    ref[:, roof] = 0.6  # a bright roof: an additive correction would leave it changed
    noise = rng.normal(0, 1, ref.shape).astype(np.float32) * np.float32(0.002)
    # a weakly correlated NIR (greening vegetation) leaves its gain undetermined
    noise[3] *= np.float32(nir_noise / 0.002)
    scene = (ref * gain + 0.01 + noise).astype(np.float32)
    out = _normalised(scene, ref, np.ones((60, 60), bool))
    if normalised:
        assert out is not None and np.abs(out - ref)[:, roof].mean() < 0.005
    else:
        assert out is None

