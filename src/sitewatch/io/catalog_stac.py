"""Catalog of STAC sources: static JSON read with pystac, APIs searched with pystac-client.

Bands come from the ``eo:bands`` common names of image assets (STAC 1.0 eo
extension; STAC 1.1 ``bands`` with ``eo:common_name``; item-level ``eo:bands``
indexed from assets as in STAC 0.9), or from asset keys that are common names
or band ids (``red``, ``B04``, ``vv``). Single-band assets win over composites
(a ``visual`` RGB asset never replaces the ``red`` band), GeoTIFFs over JPEG 2000
copies. pystac and pystac-client load only when a STAC source is read.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from ..errors import CatalogError, InputError, MissingFileError
from ..models import BandAsset
from .bands import COMMON_NAMES, normalise_name
from .catalog import BBox, Catalog, SceneDraft, finish, is_url
from .raster import RASTER_SUFFIXES

if TYPE_CHECKING:
    import pystac

TIMEOUT_S = 30.0
MAX_ITEMS = 10_000  # a site's bbox over decades stays far below; more means a too-wide search

# Asset keys of cloud / quality layers: Sentinel-2 SCL, Landsat QA_PIXEL, Fmask, masks.
_QUALITY_KEYS = frozenset({"scl", "qa_pixel", "fmask", "cloud", "cloud_mask", "cloudmask", "cld"})
_NOT_DATA_ROLES = frozenset({"thumbnail", "overview", "metadata"})
_META_PREFIXES = ("view:", "sat:", "sar:", "proj:", "s2:", "landsat:", "grid:", "mgrs:")
_META_KEYS = frozenset({"platform", "constellation", "instruments", "gsd", "eo:cloud_cover"})
_BAD_JSON = (LookupError, TypeError, ValueError)  # what pystac raises on malformed dicts
_STAC_HELP = "give a STAC catalog, collection, item collection or item JSON"


class _Skip(Exception):
    """An item that gives no scene, with the reason."""


def _short(exc: BaseException) -> str:
    """One short line out of a requests / urllib error, whose text nests several layers."""
    text = str(exc)
    m = re.search(r"\[Errno -?\d+\] ([^'\")\]>]+)", text)
    if m:
        return m.group(1).strip()
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first if len(first) <= 160 else first[:157] + "..."


def _unreachable(url: str, exc: BaseException) -> str:
    status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
    if isinstance(status, int):
        return (
            f"imagery: the STAC API at {url} answered HTTP {status}; check the URL "
            "(it should be the API's landing page, e.g. https://host/v1)"
        )
    return (
        f"imagery: cannot reach the STAC API at {url} ({_short(exc)}); check the URL and the "
        "network, or give a local folder or STAC JSON file instead"
    )


# -- assets to bands ----------------------------------------------------------


def _common_name(band: object) -> str | None:
    if not isinstance(band, dict):
        return None
    for key in ("common_name", "eo:common_name"):
        value = band.get(key)
        # Some catalogs use the generic "rededge" for B05-B07; the band name
        # (B05 -> rededge1) is more precise, so a non-standard common name falls through.
        if isinstance(value, str) and value.lower() in COMMON_NAMES:
            return value.lower()
    name = band.get("name")
    return normalise_name(name) if isinstance(name, str) else None


def _band_names(key: str, asset: pystac.Asset, item_bands: object) -> list[str | None]:
    defs = asset.extra_fields.get("eo:bands") or asset.extra_fields.get("bands")
    if isinstance(defs, list) and defs and all(isinstance(i, int) for i in defs):
        # STAC 0.9: the asset lists indexes into the item's eo:bands
        table = item_bands if isinstance(item_bands, list) else []
        defs = [table[i] for i in defs if 0 <= i < len(table)]
    if not isinstance(defs, list) or not defs:
        return [normalise_name(key)]
    names = [_common_name(b) for b in defs]
    if len(names) == 1 and names[0] is None:
        names = [normalise_name(key)]
    return names


def _is_image(asset: pystac.Asset) -> bool:
    roles = set(asset.roles or [])
    if roles & _NOT_DATA_ROLES and "data" not in roles:
        return False
    media = (asset.media_type or "").lower()
    if media:
        return media.startswith("image/") or "tiff" in media or "jp2" in media
    return Path(urlparse(asset.href).path).suffix.lower() in RASTER_SUFFIXES


def _is_jp2(asset: pystac.Asset) -> bool:
    return "jp2" in (asset.media_type or "").lower() or asset.href.lower().endswith(".jp2")


def _resolve(asset: pystac.Asset, base: str) -> str:
    from pystac.utils import make_absolute_href

    # Items of an item collection have no self link: resolve against the JSON itself.
    return asset.get_absolute_href() or make_absolute_href(asset.href, base)


def _local_path(href: str) -> Path | None:
    parsed = urlparse(href)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a path, or a Windows drive letter
        return Path(href)
    return None


def _bbox(item: pystac.Item) -> BBox | None:
    b = item.bbox
    if not b or len(b) not in (4, 6):
        return None
    if len(b) == 6:  # 3D: west, south, min-z, east, north, max-z
        return float(b[0]), float(b[1]), float(b[3]), float(b[4])
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


def _item_draft(item: pystac.Item, base: str) -> SceneDraft:
    when = item.datetime or item.common_metadata.start_datetime
    if when is None:
        raise _Skip("has neither datetime nor start_datetime")
    single: dict[str, BandAsset] = {}
    multi: dict[str, BandAsset] = {}
    quality: tuple[BandAsset, str] | None = None
    missing: list[str] = []
    item_bands = item.properties.get("eo:bands")
    # sorted() is stable: GeoTIFF assets come before their JPEG 2000 twins.
    for key, asset in sorted(item.assets.items(), key=lambda kv: _is_jp2(kv[1])):
        if not _is_image(asset):
            continue
        is_quality = key.lower() in _QUALITY_KEYS
        names = [] if is_quality else _band_names(key, asset, item_bands)
        if not is_quality and not any(names):
            continue
        href = _resolve(asset, base)
        local = _local_path(href)
        if local is not None and not local.exists():
            missing.append(f"{key}: {local}")
            continue
        if is_quality:
            quality = quality or (BandAsset(href, 1), key.lower())
            continue
        target = single if len(names) == 1 else multi
        for index, name in enumerate(names, start=1):
            if name and name not in target:
                target[name] = BandAsset(href, index)
    if missing:
        raise _Skip(
            f"asset files not found ({'; '.join(missing[:3])}); fix the hrefs, which resolve "
            "relative to the item's JSON"
        )
    bands = {**multi, **single}
    if not bands:
        keys = ", ".join(item.assets) or "none"
        raise _Skip(
            f"no usable band: its image assets ({keys}) carry no eo:bands common names and "
            "their keys are not band names (red, B04, vv...); add eo:bands common_name to them"
        )
    props = item.properties
    meta: dict[str, object] = {
        k: v for k, v in props.items() if k in _META_KEYS or k.startswith(_META_PREFIXES)
    }
    meta["source"] = item.get_self_href() or base
    if item.collection_id:
        meta["collection"] = item.collection_id
    if quality is not None:
        meta["quality_kind"] = quality[1]
    cover = props.get("eo:cloud_cover")
    return SceneDraft(
        id=item.id,
        datetime=when,
        source=f"{item.id} ({meta['source']})",
        bands=bands,
        quality=quality[0] if quality else None,
        cloud_cover=(
            float(cover)
            if isinstance(cover, int | float) and not isinstance(cover, bool) and 0 <= cover <= 100
            else None
        ),
        metadata=meta,
        bbox=_bbox(item),
    )


# -- sources --------------------------------------------------------------------


def _load_json(source: str) -> tuple[Any, str]:
    """The parsed JSON of a local file or URL, and the base its relative hrefs resolve on."""
    if is_url(source):
        from urllib.request import Request, urlopen

        request = Request(source, headers={"User-Agent": "sitewatch"})
        try:
            with urlopen(request, timeout=TIMEOUT_S) as response:
                text = response.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:  # URLError and HTTPError are OSErrors
            code = getattr(exc, "code", None)
            why = f"HTTP {code}" if isinstance(code, int) else _short(exc)
            raise CatalogError(
                f"imagery: cannot read {source} ({why}); check the URL and the network"
            ) from None
        base = source
    else:
        path = Path(source)
        if not path.is_file():
            raise MissingFileError(f"imagery: {path}: no such file; check the path")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogError(
                f"imagery: {path} cannot be read as text ({_short(exc)}); {_STAC_HELP}"
            ) from None
        base = str(path.resolve())
    try:
        return json.loads(text), base
    except json.JSONDecodeError as exc:
        raise CatalogError(
            f"imagery: {source} is not valid JSON ({exc.msg} at line {exc.lineno}); {_STAC_HELP}"
        ) from None


def _static_items(source: str) -> tuple[Iterable[pystac.Item], str]:
    import pystac

    data, base = _load_json(source)
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list) or not all(
            isinstance(f, dict) and "stac_version" in f for f in features
        ):
            raise CatalogError(
                f"imagery: {source} is a GeoJSON FeatureCollection whose features are not STAC "
                f"items (no stac_version); {_STAC_HELP}"
            )
    elif kind not in ("Catalog", "Collection", "Feature") or "stac_version" not in data:
        what = f"type {kind!r}" if kind else "no 'type'"
        raise CatalogError(f"imagery: {source} is not STAC JSON ({what}); {_STAC_HELP}")
    try:
        if kind == "FeatureCollection":
            return list(pystac.ItemCollection.from_dict(data, preserve_dict=False)), base
        obj = pystac.read_dict(data, href=base)
        if isinstance(obj, pystac.Item):
            return [obj], base
        if isinstance(obj, pystac.Catalog):
            return list(obj.get_items(recursive=True)), base
    except Exception as exc:
        # pystac reports an unreadable http link as a bare Exception caused by urllib's error
        if isinstance(exc, OSError) or isinstance(exc.__cause__, OSError):
            raise CatalogError(
                f"imagery: a link of {source} cannot be read ({_short(exc)}); fix the "
                "catalog's links (relative ones resolve from each JSON file's folder)"
            ) from None
        if isinstance(exc, (pystac.STACError, pystac.STACTypeError, *_BAD_JSON)):
            raise CatalogError(
                f"imagery: {source} is not valid STAC ({_short(exc)}); {_STAC_HELP}"
            ) from None
        raise
    raise CatalogError(f"imagery: {source} holds a {type(obj).__name__}; {_STAC_HELP}")


def _api_items(
    url: str,
    bbox: BBox | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    collection: str | None,
    skipped: list[tuple[str, str]],
) -> list[pystac.Item]:
    if bbox is None:
        raise InputError(
            f"bbox: none given to search the STAC API at {url}; give the site's "
            "(west, south, east, north) in degrees"
        )
    import pystac
    import requests
    from pystac_client import Client
    from pystac_client.conformance import ConformanceClasses
    from pystac_client.exceptions import APIError

    network = (APIError, requests.RequestException, OSError)
    try:
        with warnings.catch_warnings():
            # NoConformsTo and friends: a missing conformance gets our own message below
            warnings.simplefilter("ignore")
            client = Client.open(url, timeout=TIMEOUT_S)
    except network as exc:
        raise CatalogError(_unreachable(url, exc)) from None
    except (pystac.STACError, pystac.STACTypeError, *_BAD_JSON) as exc:
        raise CatalogError(
            f"imagery: {url} does not answer as a STAC API ({_short(exc)}); give the API's "
            "landing page URL"
        ) from None
    if not client.conforms_to(ConformanceClasses.ITEM_SEARCH):
        raise CatalogError(
            f"imagery: {url} is a STAC catalog without item search (no item-search in its "
            "conformsTo); give a STAC API that searches, or the URL of its catalog .json"
        )
    advertised = {
        str(link.extra_fields.get("method") or "GET").upper()
        for link in client.links
        if link.rel == "search"
    }
    method = "POST" if not advertised or "POST" in advertised else "GET"
    try:
        search = client.search(
            method=method,
            bbox=list(bbox),
            datetime=[start, end] if (start or end) else None,
            collections=[collection] if collection else None,
            max_items=MAX_ITEMS,
        )
        items = list(search.items())
    except network as exc:
        raise CatalogError(_unreachable(url, exc)) from None
    if len(items) >= MAX_ITEMS:
        skipped.append(
            (url, f"search stopped at {MAX_ITEMS} items; narrow the bbox, dates or collection")
        )
    return items


def read_stac(
    source: str,
    *,
    bbox: BBox | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    collection: str | None,
) -> Catalog:
    """Scenes of a STAC source; see :func:`sitewatch.io.catalog.catalog_from_stac`."""
    skipped: list[tuple[str, str]] = []
    if is_url(source) and not urlparse(source).path.lower().endswith(".json"):
        items: Iterable[pystac.Item] = _api_items(source, bbox, start, end, collection, skipped)
        base = source
        api = True
    else:
        items, base = _static_items(source)
        api = False
    drafts: list[SceneDraft] = []
    seen = 0
    for item in items:
        if collection and item.collection_id != collection:
            continue
        seen += 1
        try:
            drafts.append(_item_draft(item, base))
        except _Skip as skip:
            skipped.append((f"{item.id} ({item.get_self_href() or base})", str(skip)))
    if seen and not drafts:
        where, why = skipped[-1]
        raise CatalogError(
            f"imagery: no item of {source} gives a scene ({len(skipped)} skipped; {where}: {why})"
        )
    if not seen and not api:
        which = f" of collection {collection!r}" if collection else ""
        raise CatalogError(
            f"imagery: {source} holds no STAC items{which}; {_STAC_HELP} that links its items"
        )
    return finish(drafts, skipped, bbox=bbox, start=start, end=end)
