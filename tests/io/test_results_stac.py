import datetime as dt
import json
from pathlib import Path

import pystac
from shapely.geometry import box

from sitewatch.io.results_stac import write_results
from sitewatch.models import Site


def test_results_json_is_a_stac_item_collection_of_the_outputs(tmp_path: Path) -> None:
    site = Site("pad", "generic", box(124.70, 39.65, 124.71, 39.66))
    (tmp_path / "change").mkdir()
    for name in ("change/2019-02-24.tif", "change/2019-03-04_sar.tif", "events.geojson",
                 "report.html"):  # fmt: skip
        (tmp_path / name).write_bytes(b"x")
    scenes = [
        (dt.date(2019, 2, 24), "S2_0224", "optical", "/data/S2_0224.tif"),
        (dt.date(2019, 3, 4), "S1_0304", "sar", "/data/S1_0304.tif"),
        (dt.date(2019, 3, 9), "S2_0309", "optical", "/data/S2_0309.tif"),  # no change map
    ]
    files = {"events.geojson": tmp_path / "events.geojson", "report.html": tmp_path / "report.html"}
    path = write_results(tmp_path, site, scenes, files)
    doc = json.loads(path.read_text())
    items = pystac.ItemCollection.from_dict(doc)
    ids = [i.id for i in items]
    assert ids == ["pad-change-2019-02-24-optical", "pad-change-2019-03-04-sar", "pad-run"]
    first = items.items[0]
    assert first.assets["change"].href == "change/2019-02-24.tif"
    assert [ln.target for ln in first.links if ln.rel == "derived_from"] == ["/data/S2_0224.tif"]
    assert first.datetime == dt.datetime(2019, 2, 24, tzinfo=dt.timezone.utc)
    run = items.items[-1]
    assert {a.href for a in run.assets.values()} == {"events.geojson", "report.html"}
    assert run.properties["start_datetime"].startswith("2019-02-24")
