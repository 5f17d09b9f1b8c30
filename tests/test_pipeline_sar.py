"""``sitewatch run`` and ``sitewatch change`` on radar input that is wrong or too thin.

Tiny float32 GeoTIFFs (``vv``, ``vh``) written in ``tmp_path``: a 48 x 48 px,
10 m raster in UTM 33N and a site inside it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer
from rasterkit import ORIGIN, PIXEL, UTM, textured, write_tif
from shapely.geometry import box
from test_pipeline import run_main

from sitewatch.errors import InputError, NoValidDataError
from sitewatch.models import Site
from sitewatch.pipeline import RunOptions, run_site
from sitewatch.sites import site_to_geojson

SIZE = 48
ENL = 4.4
DATES = ("2019-01-01", "2019-01-13", "2019-01-25")


def radar_site(folder: Path, first_px: int = 8, last_px: int = SIZE - 8) -> Path:
    """A site covering raster pixels ``first_px:last_px`` on both axes, as GeoJSON."""
    x0, y0 = ORIGIN
    to_ll = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    west, north = to_ll.transform(x0 + first_px * PIXEL, y0 - first_px * PIXEL)
    east, south = to_ll.transform(x0 + last_px * PIXEL, y0 - last_px * PIXEL)
    site = Site("Radar test site", "generic", box(west, south, east, north))
    path = folder / "site.geojson"
    path.write_text(json.dumps(site_to_geojson(site)))
    return path


def speckle(seed: int, mean: float | np.ndarray = 0.05) -> np.ndarray:
    """Dual-pol linear intensity: gamma speckle with ENL looks around ``mean`` (vh 7 dB lower)."""
    rng = np.random.default_rng(seed)
    scale = np.stack([np.broadcast_to(mean, (SIZE, SIZE)), np.broadcast_to(mean, (SIZE, SIZE)) / 5])
    return (scale * rng.gamma(ENL, 1.0 / ENL, (2, SIZE, SIZE))).astype(np.float32)


def radar_folder(folder: Path, images: list[np.ndarray], dates: tuple[str, ...] = DATES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for day, data in zip(dates, images):
        write_tif(folder / f"{day}_s1.tif", data.astype(np.float32), descriptions=["vv", "vh"])
    return folder


# --------------------------------------------------------------------------- pair command


def test_pair_of_radar_and_optical_is_refused_naming_both(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    sar = write_tif(tmp_path / "SAR.tif", speckle(0), descriptions=["vv", "vh"])
    optical = write_tif(
        tmp_path / "OPTICAL.tif", textured((4, SIZE, SIZE)).astype("uint16"),
        descriptions=["blue", "green", "red", "nir"],
    )  # fmt: skip
    out = tmp_path / "mask.tif"
    code, _, err = run_main(
        ["change", str(sar), str(optical), "--out", str(out)], monkeypatch, capsys
    )
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "vv, vh" in lines[0] and "blue, green, red, nir" in lines[0]
    assert "same sensor" in lines[0]
    assert not out.exists()


def test_pair_of_named_radar_and_unnamed_image_is_refused(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    sar = write_tif(tmp_path / "SAR.tif", speckle(0), descriptions=["vv", "vh"])
    other = write_tif(tmp_path / "OPTICAL.tif", textured((2, SIZE, SIZE)).astype("uint16"))
    out = tmp_path / "mask.tif"
    code, _, err = run_main(
        ["change", str(sar), str(other), "--out", str(out)], monkeypatch, capsys
    )
    assert code == 2 and "vv" in err, err


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("value", "scale", "match"),
    [
        (0.0, "intensity", "zero, negative or not finite"),
        (0.0, "auto", "zero, negative or not finite"),  # zeros are not taken for dB
        (-0.01, "intensity", "negative"),
        (0.0, "amplitude", "zero, negative or not finite"),
    ],
)
def test_zero_or_negative_linear_intensities_are_refused(
    tmp_path: Path, value: float, scale: str, match: str
) -> None:
    images = [speckle(i) for i in range(len(DATES))]
    images[1][0, 10:14, 10:14] = value
    folder = radar_folder(tmp_path / "images", images)
    with pytest.raises(InputError, match=match) as info:
        run_site(radar_site(tmp_path), folder, tmp_path / "out", RunOptions(sar_scale=scale))
    assert "2019-01-13" in str(info.value)  # names the scene
    assert not (tmp_path / "out").exists()


def test_a_few_negative_linear_values_are_refused_in_auto_mode(tmp_path: Path) -> None:
    images = [speckle(i) for i in range(len(DATES))]
    images[1][0, 10:14, 10:14] = -0.01  # e.g. over-corrected thermal noise
    folder = radar_folder(tmp_path / "images", images)
    with pytest.raises(InputError, match="negative"):
        run_site(radar_site(tmp_path), folder, tmp_path / "out")


@pytest.mark.parametrize("declared", ["intensity", "amplitude"])
def test_db_image_declared_linear_is_refused(tmp_path: Path, declared: str) -> None:
    images = [10.0 * np.log10(speckle(i)) for i in range(len(DATES))]
    folder = radar_folder(tmp_path / "images", images)
    with pytest.raises(InputError, match=f"declared {declared}.*decibels"):
        run_site(radar_site(tmp_path), folder, tmp_path / "out", RunOptions(sar_scale=declared))
    result = run_site(radar_site(tmp_path), folder, tmp_path / "out2")  # auto reads them as dB
    assert {r.sensor for r in result.timeline} == {"sar"} and result.events == []


# --------------------------------------------------------------------------- too little


def test_single_radar_date_gives_a_timeline_only(tmp_path: Path) -> None:
    folder = radar_folder(tmp_path / "images", [speckle(0)], DATES[:1])
    result = run_site(radar_site(tmp_path), folder, tmp_path / "out")
    assert result.events == []
    assert result.timeline and {r.sensor for r in result.timeline} == {"sar"}
    assert {r.date for r in result.timeline} == {dt.date(2019, 1, 1)}
    assert any("timeline only" in w for w in result.warnings), result.warnings
    assert result.radar is not None and result.radar.dates == (dt.date(2019, 1, 1),)


def _thin_input(tmp_path: Path, case: str) -> tuple[Path, Path, float]:
    """(site, imagery, margin_m) whose ENL cannot be estimated."""
    if case == "tiny site":
        images = [speckle(i) for i in range(len(DATES))]
        return radar_site(tmp_path, 20, 23), radar_folder(tmp_path / "images", images), 0.0
    images = [np.full((2, SIZE, SIZE), 0.05, np.float32) for _ in DATES]
    return radar_site(tmp_path), radar_folder(tmp_path / "images", images), 100.0


@pytest.mark.parametrize(
    "case",
    [
        "tiny site",
        "constant images",
    ],
)
def test_enl_that_cannot_be_estimated_asks_for_it(tmp_path: Path, case: str) -> None:
    site, folder, margin = _thin_input(tmp_path, case)
    with pytest.raises(NoValidDataError, match="--enl"):
        run_site(site, folder, tmp_path / "out", RunOptions(margin_m=margin))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["tiny site", "constant images"])
def test_given_enl_lets_thin_input_run(tmp_path: Path, case: str) -> None:
    site, folder, margin = _thin_input(tmp_path, case)
    result = run_site(site, folder, tmp_path / "out", RunOptions(margin_m=margin, enl=ENL))
    assert case != "tiny site" or max(result.grid.shape) <= 5
    assert len({r.date for r in result.timeline}) == len(DATES)
    assert result.events == []
    assert result.radar is not None and result.radar.data.shape[0] == len(DATES)
