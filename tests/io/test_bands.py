"""Band names: descriptions, sensor layouts, file names and ``--bands``."""

from __future__ import annotations

import pytest

from sitewatch.errors import InputError
from sitewatch.io.bands import (
    COMMON_NAMES,
    LANDSAT_TM,
    SENTINEL2,
    band_id_from_filename,
    names_for_layout,
    normalise_name,
    parse_band_list,
)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("B02", "blue"),
        ("b04", "red"),
        ("B8A", "nir08"),
        ("B12", "swir22"),
        ("Red", "red"),
        (" Near Infrared ", "nir"),
        ("NIR", "nir"),
        ("VV", "vv"),
        ("swir1", "swir16"),
        ("grey", "gray"),
        ("S2_B03_10m", "green"),
        ("", None),
        (None, None),
        ("elevation", None),
        ("B13", None),
    ],
)
def test_normalise_name(label: str | None, expected: str | None) -> None:
    assert normalise_name(label) == expected


def test_sentinel2_thirteen_descriptions_keep_their_names() -> None:
    # B10/B11 are also Landsat ids; a full Sentinel-2 stack must not be read as Landsat.
    assert names_for_layout(list(SENTINEL2)) == list(SENTINEL2.values())


def test_landsat_tm_set_is_recognised_as_a_whole() -> None:
    labels = ["B1", "B2", "B3", "B4", "B5", "B7"]
    assert names_for_layout(labels) == [LANDSAT_TM[b] for b in labels]
    assert names_for_layout(labels)[0] == "blue"


def test_landsat_tm_subset_is_not_guessed() -> None:
    # "B1" alone is ambiguous (blue on TM, coastal on OLI): no name rather than a wrong one.
    assert names_for_layout(["B1", "B2", "B3"]) == [None, None, None]


def test_landsat_oli_collection2_names() -> None:
    labels = ["SR_B1", "SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7"]
    assert names_for_layout(labels) == [
        "coastal",
        "blue",
        "green",
        "red",
        "nir",
        "swir16",
        "swir22",
    ]


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("T33UUP_20240101T100000_B02_10m.tif", "blue"),
        ("T33UUP_20240101T100000_B8A_20m.jp2", "nir08"),
        ("scene_B01.tif", "coastal"),
        ("scene-B11.TIF", "swir16"),
        ("site_2024-01-01_red.tif", "red"),
        ("site_nir.tif", "nir"),
        ("B02", "blue"),
        ("preview.tif", None),
        ("TB02X.tif", None),
    ],
)
def test_band_id_from_filename(filename: str, expected: str | None) -> None:
    assert band_id_from_filename(filename) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("blue,green,red,nir", ["blue", "green", "red", "nir"]),
        ("B04, B03 ,B02", ["red", "green", "blue"]),
        ("band1,band3", ["band1", "band3"]),
        ("NIR,swir1", ["nir", "swir16"]),
    ],
)
def test_parse_band_list(text: str | None, expected: list[str] | None) -> None:
    assert parse_band_list(text) == expected


@pytest.mark.parametrize("text", ["blue,ultraviolet", "infrared", "bandX"])
def test_parse_band_list_rejects_unknown_names(text: str) -> None:
    with pytest.raises(InputError, match=r"--bands: .* is not a band name; use common names"):
        parse_band_list(text)


def test_parse_band_list_rejects_duplicates_even_through_aliases() -> None:
    with pytest.raises(InputError, match=r"'red' is listed twice"):
        parse_band_list("red,B04")


def test_unknown_band_message_lists_the_known_names() -> None:
    with pytest.raises(InputError) as info:
        parse_band_list("purple")
    assert all(name in str(info.value) for name in COMMON_NAMES)
    assert "\n" not in str(info.value)
