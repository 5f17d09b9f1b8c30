"""Writing a scenario folder, and the ``sitewatch simulate`` command."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from sitewatch import cli
from sitewatch.errors import InputError, OutputError
from sitewatch.sim.scenarios import build_scenario
from sitewatch.sim.write import write_scenario
from sitewatch.sites import load_site

runner = CliRunner()


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "sohae"
    write_scenario(build_scenario("sohae-2019", seed=7, size=64), out)
    return out


def test_folder_holds_images_site_truth_and_parameters(written: Path) -> None:
    params = json.loads((written / "scenario.json").read_text())
    assert params["seed"] == 7 and params["scenario"] == "sohae-2019"
    images = sorted(p for p in (written / "images").glob("*.tif") if "_s1" not in p.stem)
    assert [p.stem for p in images] == params["dates"]
    assert sorted(p.name for p in (written / "truth" / "clouds").glob("*.tif")) == [
        p.name for p in images
    ]
    crs = []
    for p in images:
        with rasterio.open(p) as ds:
            assert ds.count == 4 and ds.dtypes == ("uint16",) * 4
            assert ds.descriptions == ("blue", "green", "red", "nir")
            assert ds.nodata == 0
            crs.append(ds.crs.to_epsg())
    assert crs.count(4326) == 1 and crs.count(32651) == len(images) - 1
    truth = json.loads((written / "truth" / "events.geojson").read_text())
    assert truth["type"] == "FeatureCollection" and truth["features"]


def test_radar_series_every_12_days_with_its_truth(written: Path) -> None:
    radar = sorted((written / "images").glob("*_s1.tif"))
    days = [dt.date.fromisoformat(p.stem[:10]) for p in radar]
    assert len(days) > 20 and {(b - a).days for a, b in zip(days, days[1:])} == {12}
    with rasterio.open(radar[0]) as ds:
        assert ds.descriptions == ("vv", "vh") and ds.dtypes == ("float32",) * 2
        assert (ds.read() > 0).all()
    sar = json.loads((written / "truth" / "events_sar.geojson").read_text())
    assert all(f["properties"]["first_seen"] in {d.isoformat() for d in days}
               for f in sar["features"])  # fmt: skip
    structures = [f for f in sar["features"] if f["properties"]["kind"] != "transient"]
    assert any(f["properties"]["sar_visible"] for f in structures)
    both = json.loads((written / "truth" / "events_all.geojson").read_text())
    optical = json.loads((written / "truth" / "events.geojson").read_text())
    first = {f["properties"]["event_id"]: f["properties"]["first_seen"]
             for f in optical["features"]}  # fmt: skip
    for f in both["features"]:
        p = f["properties"]
        assert p["event_id"] not in first or p["first_seen"] <= first[p["event_id"]]


def test_site_file_loads_as_a_launch_site(written: Path) -> None:
    site = load_site(written / "site.geojson")
    assert site.profile == "launch_site"
    assert set(site.zone_names) == {
        "launch_pad", "gantry", "engine_test_stand", "rail_transfer",
        "assembly_building", "propellant_storage", "support",
    }  # fmt: skip
    assert [(e.date.isoformat(), e.label) for e in site.context_events] == [
        ("2019-02-28", "Hanoi summit")
    ]
    lon, lat = site.centroid
    assert abs(lon - 124.705) < 0.002 and abs(lat - 39.66) < 0.002


def test_writing_twice_gives_identical_pixels(tmp_path: Path) -> None:
    s = build_scenario("quiet", seed=3, size=64)
    s = type(s)(**{**s.__dict__, "acquisitions": s.acquisitions[:3]})
    for name in ("a", "b"):
        write_scenario(s, tmp_path / name, clouds=False)
    for p in sorted((tmp_path / "a" / "images").glob("*.tif")):
        with rasterio.open(p) as a, rasterio.open(tmp_path / "b" / "images" / p.name) as b:
            assert a.read().tobytes() == b.read().tobytes()
            assert a.transform == b.transform


def test_non_empty_folder_needs_overwrite(tmp_path: Path) -> None:
    s = build_scenario("quiet", seed=3, size=64)
    s = type(s)(**{**s.__dict__, "acquisitions": s.acquisitions[:2]})
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="overwrite"):
        write_scenario(s, out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    files = write_scenario(s, out, overwrite=True, sar=False)
    assert len(files.images) == 2 and (out / "notes.txt").exists()
    with pytest.raises(OutputError, match="is a file"):
        write_scenario(s, out / "notes.txt")


def test_cli_simulate_writes_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "q"
    result = runner.invoke(
        cli.app,
        ["simulate", "quiet", "--out", str(out), "--size", "64", "--seed", "3", "--no-sar"],
    )
    assert result.exit_code == 0, result.output
    assert "images" in result.output and str(out) in result.output
    assert (out / "site.geojson").exists() and (out / "truth" / "events.geojson").exists()
    assert len(list((out / "images").glob("*.tif"))) == len(
        json.loads((out / "scenario.json").read_text())["dates"]
    )
    # a second run into the same folder is refused unless --overwrite
    again = runner.invoke(cli.app, ["simulate", "quiet", "--out", str(out), "--size", "64"])
    assert isinstance(again.exception, OutputError)
    again = runner.invoke(
        cli.app, ["simulate", "quiet", "--out", str(out), "--size", "64", "--overwrite"]
    )
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize(("pixel_m", "expected"), [(None, 3.0), ("10", 10.0)])
def test_cli_simulate_pixel_size(tmp_path: Path, pixel_m: str | None, expected: float) -> None:
    out = tmp_path / "q"
    args = ["simulate", "quiet", "--out", str(out), "--size", "64", "--no-sar"]
    result = runner.invoke(cli.app, args + (["--pixel-m", pixel_m] if pixel_m else []))
    assert result.exit_code == 0, result.output
    res = []
    for image in sorted((out / "images").glob("*.tif")):
        with rasterio.open(image) as src:
            if src.crs.is_projected:  # one date is in EPSG:4326
                res.append(src.res)
    assert res and all(r == pytest.approx((expected, expected)) for r in res)
    assert json.loads((out / "scenario.json").read_text())["pixel_m"] == expected


def test_cli_unknown_scenario_is_bad_input(tmp_path: Path, monkeypatch, capsys) -> None:
    result = runner.invoke(cli.app, ["simulate", "mars", "--out", str(tmp_path / "x")])
    assert isinstance(result.exception, InputError)
    monkeypatch.setattr("sys.argv", ["sitewatch", "simulate", "mars", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "sohae-2019" in err and "quiet" in err
    assert not (tmp_path / "x").exists()


def test_cloud_masks_mark_nodata(written: Path) -> None:
    for p in sorted((written / "truth" / "clouds").glob("*.tif")):
        with rasterio.open(p) as m, rasterio.open(written / "images" / p.name) as img:
            mask = m.read(1)
            data = img.read()
            assert np.array_equal(mask == 255, (data == 0).all(axis=0))
