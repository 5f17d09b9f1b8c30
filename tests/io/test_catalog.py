"""Scene catalogs: dated folders, static STAC JSON and a STAC API served on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import pystac
import pytest
from rasterkit import write_tif

import sitewatch
from sitewatch.errors import CatalogError, InputError, MissingFileError, SitewatchError
from sitewatch.io.catalog import (
    Catalog,
    catalog_from_folder,
    catalog_from_stac,
    open_catalog,
    parse_date,
    sensor_for_bands,
)
from sitewatch.models import BandAsset, Scene

UTC = dt.timezone.utc
S2_PRODUCT = "S2A_MSIL2A_20190214T022331_N0211_R103_T51SVG_20190214T055203"
# rasterkit's UTM 33N origin (500 000 E, 5 000 000 N) lies at about 15.0 E, 45.15 N.
SITE_BBOX = (14.99, 45.1, 15.01, 45.2)
FAR_BBOX = (100.0, 10.0, 101.0, 11.0)


def tif(path: Path, bands: int = 1, descriptions: list[str] | None = None) -> Path:
    """A tiny uint16 GeoTIFF in UTM 33N (explicit transform and CRS from rasterkit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.arange(bands * 16, dtype="uint16").reshape(bands, 4, 4)
    return write_tif(path, data, descriptions=descriptions)


# -- dates in names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2019-02-14.tif", dt.datetime(2019, 2, 14, tzinfo=UTC)),
        ("site_20190214.tif", dt.datetime(2019, 2, 14, tzinfo=UTC)),
        ("2019-02-14T02:23:31_pass.tif", dt.datetime(2019, 2, 14, 2, 23, 31, tzinfo=UTC)),
        (S2_PRODUCT, dt.datetime(2019, 2, 14, 2, 23, 31, tzinfo=UTC)),
        (S2_PRODUCT + ".SAFE", dt.datetime(2019, 2, 14, 2, 23, 31, tzinfo=UTC)),
        (
            "S1A_IW_GRDH_1SDV_20200103T101521_20200103T101546_030627_038283_2A6B",
            dt.datetime(2020, 1, 3, 10, 15, 21, tzinfo=UTC),
        ),
        (
            "LC08_L2SP_118038_20190214_20190222_02_T1_SR_B4.TIF",
            dt.datetime(2019, 2, 14, tzinfo=UTC),
        ),
        ("T51SVG_20190301T022331_B02_10m.jp2", dt.datetime(2019, 3, 1, 2, 23, 31, tzinfo=UTC)),
        ("x_20191341_20190214.tif", dt.datetime(2019, 2, 14, tzinfo=UTC)),  # first valid wins
        ("20191341.tif", None),  # month 13
        ("2019-02-30.tif", None),  # no such day
        ("18000101.tif", None),  # outside the years imagery exists
        ("2019-0214.tif", None),  # mixed separators
        ("123456789.tif", None),  # nine digits are an id, not a date
        ("T51SVG_N0211.tif", None),
        ("scene.tif", None),
    ],
)
def test_parse_date(name: str, expected: dt.datetime | None) -> None:
    assert parse_date(name) == expected
    if expected is not None:
        assert parse_date(name).tzinfo is UTC  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("names", "sensor"),
    [(["vv", "vh"], "sar"), (["hh"], "sar"), (["red", "nir"], "optical"), (["band1"], "optical")],
)
def test_sensor_for_bands(names: list[str], sensor: str) -> None:
    assert sensor_for_bands(names) == sensor


def test_mixed_radar_and_optical_bands_are_refused() -> None:
    with pytest.raises(InputError, match="mix radar"):
        sensor_for_bands(["red", "vv"])


# -- Scene ----------------------------------------------------------------------------


def test_scene_is_utc_and_read_only() -> None:
    plus2 = dt.timezone(dt.timedelta(hours=2))
    scene = Scene("a", dt.datetime(2020, 1, 1, 1, tzinfo=plus2), "optical", {"red": BandAsset("x")})
    assert scene.datetime == dt.datetime(2019, 12, 31, 23, tzinfo=UTC)
    assert scene.date == dt.date(2019, 12, 31)
    with pytest.raises(TypeError):
        scene.bands["nir"] = BandAsset("y")  # type: ignore[index]
    twin = Scene("a", scene.datetime, "optical", {"red": BandAsset("x")})
    assert twin == scene and len({scene, twin}) == 1  # hashable despite its mappings


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"datetime": dt.datetime(2020, 1, 1)}, "no time zone"),
        ({"sensor": "lidar"}, "not a sensor kind"),
        ({"bands": {}}, "has no band"),
        ({"cloud_cover": 140.0}, "not a percentage"),
        ({"bbox": (1.0, 2.0)}, "not four numbers"),
    ],
)
def test_scene_validation(kwargs: dict[str, Any], match: str) -> None:
    base: dict[str, Any] = dict(
        id="a", datetime=dt.datetime(2020, 1, 1, tzinfo=UTC), sensor="optical",
        bands={"red": BandAsset("x")},
    )  # fmt: skip
    with pytest.raises(InputError, match=match):
        Scene(**{**base, **kwargs})


def test_band_index_starts_at_one() -> None:
    with pytest.raises(InputError, match="start at 1"):
        BandAsset("x.tif", 0)


def test_catalog_error_is_public_and_a_value_error() -> None:
    assert sitewatch.CatalogError is CatalogError
    assert issubclass(CatalogError, SitewatchError) and issubclass(CatalogError, ValueError)


# -- folders ------------------------------------------------------------------------


def test_folder_of_multiband_files(tmp_path: Path) -> None:
    four = ["B02", "B03", "B04", "B08"]
    tif(tmp_path / "2019-03-01.tif", 4, four)
    tif(tmp_path / "site_20190214.tif", 4, four)
    tif(tmp_path / "undated.tif", 4, four)
    tif(tmp_path / "site_20191341.tif", 4, four)
    (tmp_path / "notes.txt").write_text("not imagery")
    (tmp_path / "site.geojson").write_text("{}")

    cat = catalog_from_folder(tmp_path)

    assert isinstance(cat, Catalog)
    assert cat.dates == [dt.date(2019, 2, 14), dt.date(2019, 3, 1)]
    first = cat.scenes[0]
    assert first.id == "site_20190214"
    assert first.sensor == "optical"
    href = str(tmp_path / "site_20190214.tif")
    assert dict(first.bands) == {
        "blue": BandAsset(href, 1), "green": BandAsset(href, 2),
        "red": BandAsset(href, 3), "nir": BandAsset(href, 4),
    }  # fmt: skip
    assert first.quality is None and first.cloud_cover is None
    assert first.bbox is not None
    west, south, east, north = first.bbox
    assert 14.99 < west < east < 15.01 and 45.1 < south < north < 45.2
    # only images without a valid date are reported; other files are not imagery
    reasons = {Path(p).name: why for p, why in cat.skipped}
    assert reasons == {
        "site_20191341.tif": "'20191341' in the name is not a valid date (expected YYYY-MM-DD, "
        "YYYYMMDD or Sentinel-style YYYYMMDDTHHMMSS)",
        "undated.tif": "no date in the name (expected YYYY-MM-DD, YYYYMMDD or Sentinel-style "
        "YYYYMMDDTHHMMSS)",
    }


def test_unnamed_bands_stay_positional(tmp_path: Path) -> None:
    tif(tmp_path / "2019-02-14.tif", 3)
    scene = catalog_from_folder(tmp_path).scenes[0]
    assert list(scene.bands) == ["band1", "band2", "band3"]
    assert scene.metadata["named_bands"] is False


def test_same_day_per_band_files_merge_into_one_scene(tmp_path: Path) -> None:
    for band in ("B04", "B08"):
        tif(tmp_path / f"20190214_{band}.tif")
    tif(tmp_path / "20190214_SCL.tif")
    tif(tmp_path / "20190301_red.tif")

    cat = catalog_from_folder(tmp_path)

    assert len(cat) == 2 and cat.skipped == []
    merged = cat.scenes[0]
    assert merged.id == "20190214"
    assert dict(merged.bands) == {
        "red": BandAsset(str(tmp_path / "20190214_B04.tif")),
        "nir": BandAsset(str(tmp_path / "20190214_B08.tif")),
    }
    assert merged.quality == BandAsset(str(tmp_path / "20190214_SCL.tif"))
    assert merged.metadata["quality_kind"] == "scl"
    assert merged.metadata["merged_from"] == ["20190214", "20190214", "20190214"]
    assert list(cat.scenes[1].bands) == ["red"]


def test_folder_of_per_band_subfolders(tmp_path: Path) -> None:
    product = tmp_path / S2_PRODUCT
    for band in ("B02", "B03", "B04", "B08", "B01"):
        tif(product / f"T51SVG_{band}_10m.tif")
    tif(product / "T51SVG_SCL_20m.tif")
    # date only in the band file names
    for band in ("B04", "B08"):
        tif(tmp_path / "pass2" / f"T51SVG_20190301T022331_{band}.tif")
    # files of two dates in one folder, and a nested product: skipped with reasons
    tif(tmp_path / "mixed" / "a_20190401_B04.tif")
    tif(tmp_path / "mixed" / "a_20190402_B08.tif")
    tif(tmp_path / "nested.SAFE_20190501" / "GRANULE" / "x_B04.tif")

    cat = catalog_from_folder(tmp_path)

    assert [s.id for s in cat] == [S2_PRODUCT, "pass2"]
    first, second = cat.scenes
    assert first.datetime == dt.datetime(2019, 2, 14, 2, 23, 31, tzinfo=UTC)
    # atmospheric bands (B01 coastal) are left out, as open_image does for band folders
    assert set(first.bands) == {"blue", "green", "red", "nir"}
    assert first.bands["nir"] == BandAsset(str(product / "T51SVG_B08_10m.tif"), 1)
    assert first.quality == BandAsset(str(product / "T51SVG_SCL_20m.tif"))
    assert second.datetime == dt.datetime(2019, 3, 1, 2, 23, 31, tzinfo=UTC)
    assert set(second.bands) == {"red", "nir"} and second.quality is None
    reasons = {Path(p).name: why for p, why in cat.skipped}
    assert "different dates (2019-04-01, 2019-04-02)" in reasons["mixed"]
    assert "no image files directly" in reasons["nested.SAFE_20190501"]


def test_radar_and_optical_on_the_same_day_stay_apart(tmp_path: Path) -> None:
    tif(tmp_path / "2020-01-03_VV.tif")
    tif(tmp_path / "2020-01-03_VH.tif")
    tif(tmp_path / "2020-01-03_optical.tif", 2, ["red", "nir"])
    tif(tmp_path / "2020-01-01_VV.tif")

    cat = catalog_from_folder(tmp_path)

    assert [(s.date.day, s.sensor, sorted(s.bands)) for s in cat] == [
        (1, "sar", ["vv"]),
        (3, "sar", ["vh", "vv"]),  # id "2020-01-03" sorts before "2020-01-03_optical"
        (3, "optical", ["nir", "red"]),
    ]


def test_same_day_duplicates_keep_one_and_say_why(tmp_path: Path) -> None:
    tif(tmp_path / "2019-02-14_a.tif", 2, ["red", "nir"])
    tif(tmp_path / "2019-02-14_b.tif", 2, ["red", "nir"])
    tif(tmp_path / "2019-02-14_c.tif", 3, ["red", "nir", "green"])

    cat = catalog_from_folder(tmp_path)

    assert [s.id for s in cat] == ["2019-02-14_c"]  # more bands wins
    dropped = sorted((Path(p).name, why) for p, why in cat.skipped)
    assert dropped[0][0] == "2019-02-14_a.tif" and "3 bands > 2" in dropped[0][1]
    assert dropped[1][0] == "2019-02-14_b.tif" and "first in time and id order" in dropped[1][1]


def test_folder_filters_by_time_and_bbox(tmp_path: Path) -> None:
    for day in ("2019-01-05", "2019-02-14", "2019-03-01"):
        tif(tmp_path / f"{day}.tif", 1, ["red"])
    cat = catalog_from_folder(tmp_path, start="2019-02-01", end=dt.date(2019, 3, 1))
    assert cat.dates == [dt.date(2019, 2, 14), dt.date(2019, 3, 1)]
    assert catalog_from_folder(tmp_path, bbox=SITE_BBOX).dates[0] == dt.date(2019, 1, 5)
    assert len(catalog_from_folder(tmp_path, bbox=FAR_BBOX)) == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": "2019-03-01", "end": "2019-02-01"}, "start, end: .* is after"),
        ({"start": "last week"}, "start: 'last week' is not a date"),
        ({"bbox": (15.0, 45.0, 14.0, 46.0)}, "west <= east"),
        ({"bbox": (1, 2, 3)}, "not four numbers"),
    ],
)
def test_bad_filters(tmp_path: Path, kwargs: dict[str, Any], match: str) -> None:
    tif(tmp_path / "2019-02-14.tif", 1, ["red"])
    with pytest.raises(InputError, match=match):
        catalog_from_folder(tmp_path, **kwargs)


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="no such folder"):
        catalog_from_folder(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    with pytest.raises(CatalogError, match=r"no image files in .*empty"):
        catalog_from_folder(empty)
    undated = tmp_path / "undated"
    tif(undated / "before.tif")
    tif(undated / "after.tif")
    with pytest.raises(CatalogError, match=r"carries a date \(after.tif, before.tif\).*YYYY-MM-DD"):
        catalog_from_folder(undated)
    with pytest.raises(InputError, match="is a file, not a folder"):
        catalog_from_folder(undated / "before.tif")


def test_unreadable_image_is_skipped_or_fatal_when_alone(tmp_path: Path) -> None:
    (tmp_path / "2019-01-01.tif").write_bytes(b"not a tiff")
    with pytest.raises(CatalogError, match=r"no readable scene .*2019-01-01.tif.*not a readable"):
        catalog_from_folder(tmp_path)
    tif(tmp_path / "2019-02-14.tif", 1, ["red"])
    cat = catalog_from_folder(tmp_path)
    assert cat.dates == [dt.date(2019, 2, 14)]
    assert "not a readable raster" in cat.skipped[0][1]


# -- static STAC ----------------------------------------------------------------------


def stac_item(
    item_id: str,
    when: dt.datetime,
    data: Path,
    *,
    cloud: float | None = None,
    bbox: tuple[float, float, float, float] = SITE_BBOX,
    collection: str | None = None,
) -> pystac.Item:
    """An item whose image files lie in ``data``: single-band, multi-band and quality assets."""
    red = tif(data / f"{item_id}_B04.tif")
    nir = tif(data / f"{item_id}_nir.tif")
    visual = tif(data / f"{item_id}_TCI.tif", 3)
    scl = tif(data / f"{item_id}_SCL.tif")
    west, south, east, north = bbox
    geometry = {
        "type": "Polygon",
        "coordinates": [
            [[west, south], [east, south], [east, north], [west, north], [west, south]]
        ],
    }
    props: dict[str, Any] = {"view:sun_elevation": 31.5, "platform": "sentinel-2a"}
    if cloud is not None:
        props["eo:cloud_cover"] = cloud
    item = pystac.Item(item_id, geometry, list(bbox), when, props, collection=collection)
    cog = pystac.MediaType.COG
    # key is a band id, no eo:bands
    item.add_asset("B04", pystac.Asset(str(red), media_type=cog, roles=["data"]))
    item.add_asset(
        "band_nir",  # key says nothing: the eo:bands common name does
        pystac.Asset(
            str(nir), media_type=cog, roles=["data"],
            extra_fields={"eo:bands": [{"name": "B08", "common_name": "nir"}]},
        ),
    )  # fmt: skip
    item.add_asset(
        "visual",
        pystac.Asset(
            str(visual), media_type=cog, roles=["visual"],
            extra_fields={"eo:bands": [{"name": n, "common_name": c}
                                       for n, c in (("B04", "red"), ("B03", "green"),
                                                    ("B02", "blue"))]},
        ),
    )  # fmt: skip
    item.add_asset("scl", pystac.Asset(str(scl), media_type=cog, roles=["data"]))
    item.add_asset(
        "thumbnail", pystac.Asset("thumb.png", media_type="image/png", roles=["thumbnail"])
    )
    item.add_asset("metadata", pystac.Asset("meta.xml", media_type="application/xml"))
    return item


def write_static(kind: str, root: Path) -> Path:
    """Two items written as a catalog, a collection, an item collection or one item."""
    data = root / "data"
    items = [
        stac_item("S2A_20190301", dt.datetime(2019, 3, 1, 2, 23, tzinfo=UTC), data, cloud=12.0),
        stac_item("S2A_20190214", dt.datetime(2019, 2, 14, 2, 23, tzinfo=UTC), data, cloud=3.5),
    ]
    if kind == "item":
        item = items[1]
        item.set_self_href(str(root / "item.json"))
        item.make_asset_hrefs_relative()
        item.save_object()
        return root / "item.json"
    if kind == "itemcollection":
        for item in items:
            for asset in item.assets.values():  # relative to the item collection's file
                asset.href = asset.href.replace(str(root) + "/", "")
        path = root / "items.json"
        path.write_text(json.dumps(pystac.ItemCollection(items).to_dict()))
        return path
    extent = pystac.Extent(
        pystac.SpatialExtent([list(SITE_BBOX)]),
        pystac.TemporalExtent([[dt.datetime(2019, 1, 1, tzinfo=UTC), None]]),
    )
    coll = pystac.Collection("s2", "test collection", extent)
    coll.add_items(items)
    if kind == "collection":
        top: pystac.Catalog = coll
    else:
        top = pystac.Catalog("root", "test catalog")
        top.add_child(coll)
    top.normalize_hrefs(str(root / "stac"))
    top.make_all_asset_hrefs_relative()
    top.save(pystac.CatalogType.SELF_CONTAINED)
    return Path(top.get_self_href() or "")


@pytest.mark.parametrize("kind", ["catalog", "collection", "itemcollection", "item"])
def test_static_stac(tmp_path: Path, kind: str) -> None:
    source = write_static(kind, tmp_path)
    text = source.read_text()
    assert str(tmp_path / "data") not in text  # hrefs really are relative

    cat = open_catalog(source)

    data = tmp_path / "data"
    expected_ids = ["S2A_20190214"] if kind == "item" else ["S2A_20190214", "S2A_20190301"]
    assert [s.id for s in cat] == expected_ids
    scene = cat.scenes[0]
    assert scene.datetime == dt.datetime(2019, 2, 14, 2, 23, tzinfo=UTC)
    assert scene.cloud_cover == 3.5
    assert scene.sensor == "optical"
    # single-band assets win over the visual composite, which only fills green and blue
    assert dict(scene.bands) == {
        "red": BandAsset(str(data / "S2A_20190214_B04.tif")),
        "nir": BandAsset(str(data / "S2A_20190214_nir.tif")),
        "green": BandAsset(str(data / "S2A_20190214_TCI.tif"), 2),
        "blue": BandAsset(str(data / "S2A_20190214_TCI.tif"), 3),
    }
    assert scene.quality == BandAsset(str(data / "S2A_20190214_SCL.tif"))
    assert scene.metadata["quality_kind"] == "scl"
    assert scene.metadata["view:sun_elevation"] == 31.5
    assert scene.bbox == SITE_BBOX
    assert cat.skipped == []


def test_static_stac_filters(tmp_path: Path) -> None:
    source = write_static("catalog", tmp_path)
    assert [s.id for s in catalog_from_stac(source, start="2019-02-20")] == ["S2A_20190301"]
    assert len(catalog_from_stac(source, bbox=FAR_BBOX)) == 0
    assert len(catalog_from_stac(source, collection="s2")) == 2
    with pytest.raises(CatalogError, match="no STAC items of collection 'landsat'"):
        catalog_from_stac(source, collection="landsat")


def test_stac_same_day_keeps_the_clearer_item(tmp_path: Path) -> None:
    day = dt.datetime(2019, 2, 14, 2, 23, tzinfo=UTC)
    items = [
        stac_item("cloudy", day, tmp_path, cloud=60.0),
        stac_item("clear", day + dt.timedelta(minutes=1), tmp_path, cloud=5.0),
    ]
    path = tmp_path / "items.json"
    path.write_text(json.dumps(pystac.ItemCollection(items).to_dict()))

    cat = open_catalog(path)

    assert [s.id for s in cat] == ["clear"]
    assert cat.skipped[0][0].startswith("cloudy")
    assert "cloud cover 5% < 60%" in cat.skipped[0][1]


def test_eo_bands_variants(tmp_path: Path) -> None:
    """STAC 1.1 ``bands`` with eo:common_name, and STAC 0.9 indexes into item eo:bands."""
    stack = tif(tmp_path / "stack.tif", 2)
    vv = tif(tmp_path / "vv.tif")
    when = dt.datetime(2020, 1, 3, 10, 15, tzinfo=UTC)
    new = pystac.Item("v11", None, None, when, {})
    new.add_asset(
        "data",
        pystac.Asset(str(stack), media_type=pystac.MediaType.GEOTIFF, extra_fields={
            "bands": [{"name": "b1", "eo:common_name": "red"},
                      {"name": "b2", "eo:common_name": "nir"}]}),
    )  # fmt: skip
    old = pystac.Item("v09", None, None, when + dt.timedelta(days=1), {})
    old.properties["eo:bands"] = [{"name": "B4", "common_name": "red"}, {"name": "B08"}]
    old.add_asset("data", pystac.Asset(str(stack), extra_fields={"eo:bands": [0, 1]}))
    sar = pystac.Item("s1", None, None, when + dt.timedelta(days=2), {})
    sar.add_asset("VV", pystac.Asset(str(vv), media_type=pystac.MediaType.COG))
    path = tmp_path / "items.json"
    path.write_text(json.dumps(pystac.ItemCollection([new, old, sar]).to_dict()))

    by_id = {s.id: s for s in open_catalog(path)}

    assert dict(by_id["v11"].bands) == {
        "red": BandAsset(str(stack), 1),
        "nir": BandAsset(str(stack), 2),
    }
    assert dict(by_id["v09"].bands) == {
        "red": BandAsset(str(stack), 1),
        "nir": BandAsset(str(stack), 2),
    }
    assert by_id["s1"].sensor == "sar" and list(by_id["s1"].bands) == ["vv"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "is not valid JSON .* line 1"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature"}]}', "not STAC items"),
        ('{"hello": 1}', r"is not STAC JSON \(no 'type'\)"),
        ('{"type": "Catalog", "id": "x"}', "is not STAC JSON"),
        (
            '{"type": "Catalog", "stac_version": "1.0.0", "id": "c", "description": "d", '
            '"links": []}',
            "holds no STAC items",
        ),  # fmt: skip
    ],
)
def test_not_stac(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "thing.json"
    path.write_text(content)
    with pytest.raises(CatalogError, match=match):
        open_catalog(path)


def test_broken_catalog_link(tmp_path: Path) -> None:
    source = write_static("catalog", tmp_path)
    (tmp_path / "stac" / "s2" / "collection.json").unlink()
    with pytest.raises(CatalogError, match=r"a link of .*catalog.json cannot be read"):
        open_catalog(source)


def test_items_without_usable_bands(tmp_path: Path) -> None:
    when = dt.datetime(2019, 2, 14, tzinfo=UTC)
    item = pystac.Item("opaque", None, None, when, {})
    item.add_asset("data", pystac.Asset(str(tif(tmp_path / "x.tif")), media_type="image/tiff"))
    lost = pystac.Item("lost", None, None, when, {})
    lost.add_asset("red", pystac.Asset("gone/red.tif", media_type="image/tiff"))
    one = tmp_path / "one.json"
    one.write_text(json.dumps(pystac.ItemCollection([item]).to_dict()))
    with pytest.raises(CatalogError, match=r"no item of .* opaque .*no usable band.*common_name"):
        open_catalog(one)
    two = tmp_path / "two.json"
    two.write_text(json.dumps(pystac.ItemCollection([lost]).to_dict()))
    with pytest.raises(CatalogError, match=r"asset files not found \(red: .*gone/red.tif\)"):
        open_catalog(two)


# -- dispatch -------------------------------------------------------------------------


def test_open_catalog_dispatch_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="no such file or folder"):
        open_catalog(tmp_path / "absent")
    image = tif(tmp_path / "2019-02-14.tif")
    with pytest.raises(CatalogError, match="is a file but not STAC JSON"):
        open_catalog(image)
    with pytest.raises(InputError, match="collection: 's2' applies to STAC sources"):
        open_catalog(tmp_path, collection="s2")
    assert open_catalog(tmp_path).dates == [dt.date(2019, 2, 14)]


# -- STAC API -------------------------------------------------------------------------

CONFORMS = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/collections",
]


def _parse_time(text: str | None) -> dt.datetime | None:
    if text in (None, "", ".."):
        return None
    return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))


class StacApi:
    """A minimal STAC API: landing page, conformance, collections and item search."""

    def __init__(self, items: list[dict[str, Any]], methods: tuple[str, ...]) -> None:
        self.items = items
        self.methods = methods
        self.requests: list[tuple[str, str]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
                api.handle(self, "GET", None)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                api.handle(self, "POST", json.loads(self.rfile.read(length) or b"{}"))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.files: dict[str, Any] = {}  # path -> JSON, for static catalogs over HTTP
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def landing(self) -> dict[str, Any]:
        links = [
            {"rel": "self", "href": f"{self.url}/", "type": "application/json"},
            {"rel": "root", "href": f"{self.url}/", "type": "application/json"},
            {"rel": "conformance", "href": f"{self.url}/conformance"},
            {"rel": "data", "href": f"{self.url}/collections", "type": "application/json"},
        ]
        for method in self.methods:
            links.append({"rel": "search", "href": f"{self.url}/search",
                          "type": "application/geo+json", "method": method})  # fmt: skip
        return {
            "type": "Catalog", "id": "test-api", "stac_version": "1.0.0",
            "description": "sitewatch test API", "conformsTo": CONFORMS, "links": links,
        }  # fmt: skip

    def search(self, params: dict[str, Any]) -> dict[str, Any]:
        bbox = params.get("bbox")
        collections = params.get("collections")
        lo = hi = None
        if params.get("datetime"):
            parts = str(params["datetime"]).split("/")
            lo, hi = _parse_time(parts[0]), _parse_time(parts[-1])
        out = []
        for item in self.items:
            w, s, e, n = item["bbox"]
            when = _parse_time(item["properties"]["datetime"])
            assert when is not None
            if bbox and not (w <= bbox[2] and bbox[0] <= e and s <= bbox[3] and bbox[1] <= n):
                continue
            if collections and item.get("collection") not in collections:
                continue
            if (lo and when < lo) or (hi and when > hi):
                continue
            out.append(item)
        return {"type": "FeatureCollection", "features": out, "links": []}

    def handle(self, req: BaseHTTPRequestHandler, method: str, body: Any) -> None:
        url = urlparse(req.path)
        self.requests.append((method, url.path))
        status, payload = 200, None
        if url.path == "/" and method == "GET":
            payload = self.landing()
        elif url.path in self.files:
            payload = self.files[url.path]
        elif url.path == "/conformance":
            payload = {"conformsTo": CONFORMS}
        elif url.path == "/collections":
            payload = {"collections": [], "links": []}
        elif url.path == "/search" and method in self.methods:
            if method == "GET":
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                params: dict[str, Any] = {
                    "datetime": q.get("datetime"),
                    "bbox": [float(v) for v in q["bbox"].split(",")] if "bbox" in q else None,
                    "collections": q["collections"].split(",") if "collections" in q else None,
                }
            else:
                params = body
            payload = self.search(params)
        else:
            status, payload = 404, {"code": "NotFound", "description": url.path}
        data = json.dumps(payload).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)


@pytest.fixture
def api_items(tmp_path: Path) -> list[dict[str, Any]]:
    data = tmp_path / "data"
    days = [dt.datetime(2019, 2, d, 2, 23, tzinfo=UTC) for d in (1, 14, 20, 28)]
    items = [
        stac_item("early", days[0], data, cloud=1.0, collection="s2"),
        stac_item("in_range", days[1], data, cloud=2.0, collection="s2"),
        stac_item("elsewhere", days[2], data, bbox=FAR_BBOX, collection="s2"),
        stac_item("other_collection", days[2], data, collection="landsat"),
        stac_item("also_in_range", days[3], data, cloud=40.0, collection="s2"),
    ]
    return [it.to_dict() for it in items]


@pytest.fixture(params=[("GET", "POST"), ("GET",)], ids=["post", "get-only"])
def stac_api(request: pytest.FixtureRequest, api_items: list[dict[str, Any]]) -> Iterator[StacApi]:
    api = StacApi(api_items, request.param)
    api.thread.start()
    try:
        yield api
    finally:
        api.server.shutdown()
        api.server.server_close()
        api.thread.join(timeout=5)


def test_stac_api_search(stac_api: StacApi, tmp_path: Path) -> None:
    cat = open_catalog(
        stac_api.url, bbox=SITE_BBOX, start="2019-02-10", end="2019-02-28", collection="s2"
    )

    assert [s.id for s in cat] == ["in_range", "also_in_range"]
    scene = cat.scenes[0]
    assert scene.cloud_cover == 2.0
    assert scene.bands["red"] == BandAsset(str(tmp_path / "data" / "in_range_B04.tif"))
    assert scene.metadata["collection"] == "s2"
    expected = "POST" if "POST" in stac_api.methods else "GET"
    assert (expected, "/search") in stac_api.requests


def test_stac_api_needs_a_bbox(stac_api: StacApi) -> None:
    with pytest.raises(InputError, match=r"bbox: none given to search the STAC API at http"):
        catalog_from_stac(stac_api.url)
    assert stac_api.requests == []  # refused before any request


def test_static_item_collection_over_http(stac_api: StacApi, api_items: list[dict]) -> None:
    stac_api.files["/static/items.json"] = {"type": "FeatureCollection", "features": api_items}
    cat = open_catalog(f"{stac_api.url}/static/items.json", start="2019-02-10")
    assert [s.id for s in cat] == ["in_range", "elsewhere", "also_in_range"]
    assert "other_collection" in cat.skipped[0][0]  # same day and bands as "elsewhere"
    with pytest.raises(
        CatalogError, match=r"cannot read http://127.0.0.1:\d+/static/gone.json \(HTTP 404\)"
    ):
        open_catalog(f"{stac_api.url}/static/gone.json")


def test_stac_api_without_item_search(stac_api: StacApi) -> None:
    stac_api.files["/static/"] = {**stac_api.landing(), "conformsTo": CONFORMS[:1]}
    with pytest.raises(CatalogError, match="without item search"):
        open_catalog(f"{stac_api.url}/static/", bbox=SITE_BBOX)


def test_stac_api_wrong_path(stac_api: StacApi) -> None:
    with pytest.raises(CatalogError, match="answered HTTP 404") as info:
        catalog_from_stac(f"{stac_api.url}/nope/", bbox=SITE_BBOX)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("path", "match"),
    [("/", "cannot reach the STAC API at {url}"), ("/catalog.json", "cannot read {url}")],
    ids=["api", "static-url"],
)
def test_unreachable_stac_source(path: str, match: str) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}{path}"
    with pytest.raises(CatalogError, match=match.format(url=url)) as info:
        open_catalog(url, bbox=SITE_BBOX)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300
    assert "(Connection refused)" in message  # the cause, without requests' nested reprs
    assert info.value.__suppress_context__  # no chained traceback from requests / urllib
