"""Opening images as band stacks: files, pixel-space images and per-band folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasterkit import UTM, textured, utm_transform, write_tif

from sitewatch.errors import BandMismatchError, InputError, MissingFileError, RasterReadError
from sitewatch.io.bands import SENTINEL2
from sitewatch.io.raster import Grid, open_image

DTYPES = ["uint8", "uint16", "int16", "float32"]
NODATA = {"uint8": 0, "uint16": 0, "int16": -9999, "float32": -1.0}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 13])
@pytest.mark.parametrize("with_nodata", [False, True])
def test_geotiff_bands_dtypes_nodata(
    tmp_path: Path, dtype: str, count: int, with_nodata: bool
) -> None:
    data = textured((count, 6, 5), base=100, spread=20).astype(dtype)
    nodata = NODATA[dtype] if with_nodata else None
    path = write_tif(tmp_path / "img.tif", data, nodata=nodata)
    stack = open_image(path)
    assert stack.count == count
    assert stack.dtype == dtype
    assert stack.grid.shape == (6, 5)
    assert stack.grid.georeferenced and stack.grid.crs == UTM
    assert stack.grid.transform == utm_transform()
    assert [b.index for b in stack.bands] == list(range(1, count + 1))
    assert all(b.nodata == nodata for b in stack.bands)
    if dtype == "uint8" and count == 3:
        # GDAL marks a 3-band byte GeoTIFF as RGB (photometric): that names the bands.
        assert stack.named and stack.names == ["red", "green", "blue"]
    else:
        # No descriptions: positional names, which cannot match another image's bands by name.
        assert not stack.named
        assert stack.names == [f"band{i}" for i in range(1, count + 1)]


def test_geotiff_sentinel2_descriptions_name_all_thirteen_bands(tmp_path: Path) -> None:
    data = textured((13, 4, 4)).astype("uint16")
    stack = open_image(write_tif(tmp_path / "s2.tif", data, descriptions=list(SENTINEL2)))
    assert stack.named
    assert stack.names == list(SENTINEL2.values())


def test_descriptions_give_common_names(tmp_path: Path) -> None:
    data = textured((4, 4, 4)).astype("uint16")
    path = write_tif(tmp_path / "img.tif", data, descriptions=["B02", "B03", "B04", "B08"])
    stack = open_image(path)
    assert stack.named
    assert stack.names == ["blue", "green", "red", "nir"]


def test_landsat_tm_descriptions(tmp_path: Path) -> None:
    labels = ["B1", "B2", "B3", "B4", "B5", "B7"]
    data = textured((6, 4, 4)).astype("uint8")
    stack = open_image(write_tif(tmp_path / "tm.tif", data, descriptions=labels))
    assert stack.names == ["blue", "green", "red", "nir", "swir16", "swir22"]


@pytest.mark.parametrize(
    "labels",
    [["B02", "B03", None], ["red", "red", "green"], ["blue", "height", "red"]],
    ids=["missing", "duplicate", "unknown"],
)
def test_incomplete_descriptions_fall_back_to_positions(tmp_path: Path, labels: list) -> None:
    data = textured((3, 4, 4)).astype("uint16")
    stack = open_image(write_tif(tmp_path / "img.tif", data, descriptions=labels))
    assert not stack.named
    assert stack.names == ["band1", "band2", "band3"]


@pytest.mark.parametrize("driver,suffix", [("PNG", ".png"), ("BMP", ".bmp")])
def test_plain_rgb_image_is_pixel_space_with_rgb_names(
    tmp_path: Path, driver: str, suffix: str
) -> None:
    data = textured((3, 7, 9), base=120, spread=30).astype("uint8")
    path = write_tif(tmp_path / f"img{suffix}", data, crs=None, driver=driver)
    stack = open_image(path)
    assert not stack.grid.georeferenced
    assert stack.grid.crs is None
    assert stack.grid.shape == (7, 9)
    assert tuple(stack.grid.transform)[:6] == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    assert stack.named and stack.names == ["red", "green", "blue"]


def test_grayscale_png_is_one_positional_band(tmp_path: Path) -> None:
    path = write_tif(
        tmp_path / "g.png", np.arange(16, dtype="uint8").reshape(4, 4), crs=None, driver="PNG"
    )
    stack = open_image(path)
    assert stack.names == ["band1"]
    assert not stack.grid.georeferenced


def test_plain_tiff_without_crs_is_pixel_space(tmp_path: Path) -> None:
    stack = open_image(write_tif(tmp_path / "plain.tif", np.ones((2, 3, 3), "uint16"), crs=None))
    assert stack.grid.crs is None and stack.grid.shape == (3, 3)


def test_grid_bounds_and_area() -> None:
    g = Grid(4, 3, utm_transform(20.0), None)
    assert g.bounds == (500_000.0, 5_000_000.0 - 60, 500_080.0, 5_000_000.0)
    assert g.pixel_area == pytest.approx(400.0)
    assert g.shape == (3, 4)


def test_grid_same_as() -> None:
    from rasterio.crs import CRS

    a = Grid(4, 4, utm_transform(), CRS.from_user_input(UTM))
    assert a.same_as(Grid(4, 4, utm_transform(), CRS.from_user_input(UTM)))
    assert not a.same_as(Grid(4, 5, utm_transform(), CRS.from_user_input(UTM)))
    assert not a.same_as(Grid(4, 4, utm_transform(x0=500_010.0), CRS.from_user_input(UTM)))
    assert not a.same_as(Grid(4, 4, utm_transform(), CRS.from_user_input("EPSG:32634")))
    assert not a.same_as(Grid(4, 4, utm_transform(), None))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(
        MissingFileError, match=r"nope\.tif: no such file or folder; check the path"
    ):
        open_image(tmp_path / "nope.tif")


def test_text_file_named_tif_is_not_a_raster(tmp_path: Path) -> None:
    path = tmp_path / "notes.tif"
    path.write_text("this is not an image\n")
    with pytest.raises(
        RasterReadError, match=r"notes\.tif: not a readable raster .*give a GeoTIFF"
    ):
        open_image(path)


def test_unsupported_pixel_type(tmp_path: Path) -> None:
    path = write_tif(tmp_path / "c.tif", np.ones((1, 2, 2), "complex64"))
    with pytest.raises(RasterReadError, match=r"pixel type complex64 is not supported; convert"):
        open_image(path)


def test_bands_selects_named_bands_in_order(tmp_path: Path) -> None:
    data = textured((4, 4, 4)).astype("uint16")
    path = write_tif(tmp_path / "i.tif", data, descriptions=["B02", "B03", "B04", "B08"])
    stack = open_image(path, ["nir", "red"])
    assert stack.names == ["nir", "red"]
    assert [b.index for b in stack.bands] == [4, 3]


def test_bands_missing_from_named_image(tmp_path: Path) -> None:
    data = textured((3, 4, 4)).astype("uint16")
    path = write_tif(tmp_path / "i.tif", data, descriptions=["B02", "B03", "B04"])
    with pytest.raises(BandMismatchError, match=r"--bands: nir not found in .*it has blue, green"):
        open_image(path, ["red", "nir"])


def test_bands_by_position_on_unnamed_image(tmp_path: Path) -> None:
    path = write_tif(tmp_path / "i.tif", textured((3, 4, 4)).astype("uint16"))
    assert [b.index for b in open_image(path, ["band3", "band1"]).bands] == [3, 1]
    with pytest.raises(BandMismatchError, match=r"carries no band names, so red cannot be found"):
        open_image(path, ["red"])


# --------------------------------------------------------------------------- band folders

S2_RES = {
    "B01": 60,
    "B02": 10,
    "B03": 10,
    "B04": 10,
    "B05": 20,
    "B06": 20,
    "B07": 20,
    "B08": 10,
    "B8A": 20,
    "B09": 60,
    "B10": 60,
    "B11": 20,
    "B12": 20,
}


def write_s2_folder(folder: Path, ids: list[str] | None = None, size_m: int = 240) -> Path:
    """Per-band Sentinel-2-like files at 10/20/60 m over the same 240 m square."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, band in enumerate(ids or list(S2_RES)):
        res = S2_RES[band]
        n = size_m // res
        data = (textured((n, n), seed=i, base=1000, spread=100)).astype("uint16")
        write_tif(
            folder / f"T33TWL_20240101T100000_{band}.tif", data, transform=utm_transform(float(res))
        )
    return folder


def test_band_folder_stacks_surface_bands_on_finest_grid(tmp_path: Path) -> None:
    stack = open_image(write_s2_folder(tmp_path / "s2"))
    assert stack.named
    # Atmospheric bands (coastal B01, water vapour B09, cirrus B10) are left out by default.
    assert stack.names == [
        "blue",
        "green",
        "red",
        "rededge1",
        "rededge2",
        "rededge3",
        "nir",
        "nir08",
        "swir16",
        "swir22",
    ]
    assert stack.grid.shape == (24, 24)
    assert stack.grid.transform.a == 10.0
    by_name = {b.name: b for b in stack.bands}
    assert by_name["swir16"].grid.shape == (12, 12)
    assert by_name["blue"].path.name.endswith("_B02.tif")


def test_band_folder_atmospheric_bands_selectable_by_name(tmp_path: Path) -> None:
    stack = open_image(write_s2_folder(tmp_path / "s2"), ["cirrus", "coastal", "red"])
    assert stack.names == ["cirrus", "coastal", "red"]
    assert stack.grid.transform.a == 10.0  # red is 10 m: the finest of the chosen bands


def test_band_folder_of_coarse_bands_only_uses_their_grid(tmp_path: Path) -> None:
    stack = open_image(write_s2_folder(tmp_path / "s2"), ["swir16", "swir22"])
    assert stack.grid.transform.a == 20.0 and stack.grid.shape == (12, 12)


def test_band_folder_ignores_unnamed_files(tmp_path: Path) -> None:
    folder = write_s2_folder(tmp_path / "s2", ["B02", "B03", "B04"])
    write_tif(folder / "preview.tif", np.zeros((3, 4, 4), "uint8"))
    (folder / "metadata.xml").write_text("<xml/>")
    assert open_image(folder).names == ["blue", "green", "red"]


def test_band_folder_without_rasters(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "readme.txt").write_text("nothing here")
    with pytest.raises(
        InputError, match=r"folder holds no raster files; give a folder of per-band"
    ):
        open_image(folder)


def test_band_folder_without_band_ids(tmp_path: Path) -> None:
    folder = tmp_path / "anon"
    folder.mkdir()
    write_tif(folder / "a.tif", np.zeros((4, 4), "uint8"))
    with pytest.raises(InputError, match=r"no file name names a band \(expected e\.g\. \.\.\._B02"):
        open_image(folder)


def test_band_folder_with_two_files_for_one_band(tmp_path: Path) -> None:
    folder = write_s2_folder(tmp_path / "s2", ["B02", "B03"])
    write_tif(folder / "other_blue.tif", np.zeros((4, 4), "uint16"))
    with pytest.raises(BandMismatchError, match=r"two files hold band 'blue'.*keep one"):
        open_image(folder)


def test_band_folder_with_multiband_file(tmp_path: Path) -> None:
    folder = write_s2_folder(tmp_path / "s2", ["B02"])
    write_tif(folder / "x_B03.tif", np.zeros((2, 4, 4), "uint16"))
    with pytest.raises(BandMismatchError, match=r"has 2 bands; a band folder needs one band per"):
        open_image(folder)


def test_band_folder_with_mixed_crs(tmp_path: Path) -> None:
    folder = write_s2_folder(tmp_path / "s2", ["B02", "B03"])
    write_tif(folder / "x_B04.tif", np.zeros((4, 4), "uint16"), crs="EPSG:32634")
    with pytest.raises(BandMismatchError, match=r"different CRSs .* reproject them to one CRS"):
        open_image(folder)
