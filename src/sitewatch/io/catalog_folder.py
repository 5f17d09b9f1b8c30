"""Catalog of a folder: dated image files, and dated sub-folders of per-band files.

A file directly in the folder is one scene (or one part of one: same-day
single-band files such as ``2019-02-14_B04.tif`` and ``2019-02-14_B08.tif`` are
merged by :func:`sitewatch.io.catalog.finish`). A sub-folder is one scene whose
bands are its single-band files, named by band id as :func:`open_image` reads
them. Band names come from the files themselves, never from guesses.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from ..errors import CatalogError, InputError, MissingFileError, SitewatchError
from ..models import BandAsset
from .bands import band_id_from_filename
from .catalog import (
    DATE_FORMATS,
    BBox,
    Catalog,
    SceneDraft,
    finish,
    no_date_reason,
    parse_date,
)
from .raster import RASTER_SUFFIXES, Grid, ImageStack, open_image

# Cloud / quality layers: Sentinel-2 scene classification, Landsat QA, Fmask, masks.
_QUALITY = re.compile(
    r"(?:^|[_\-.])(SCL|QA_PIXEL|FMASK|CLOUD_?MASK|CLD)(?:[_\-.]|$)", re.IGNORECASE
)
_S2_BAND = re.compile(r"[_\-.](?:B(?:0[1-9]|1[0-2]|8A))(?=[_\-.]|$)", re.IGNORECASE)


class _Skip(Exception):
    """An entry that gives no scene; ``dateless`` when only its name is at fault."""

    def __init__(self, reason: str, *, dateless: bool = False) -> None:
        super().__init__(reason)
        self.dateless = dateless


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in RASTER_SUFFIXES


def _lonlat_bbox(grid: Grid) -> BBox | None:
    if grid.crs is None:
        return None  # pixel-space images have no place on Earth
    from rasterio.warp import transform_bounds

    try:
        west, south, east, north = transform_bounds(
            grid.crs, "EPSG:4326", *grid.bounds, densify_pts=21
        )
    except ValueError:  # CRSError and projection failures: the bbox is only a filter hint
        return None
    return float(west), float(south), float(east), float(north)


def _scene_stem(stem: str, band_from_name: bool) -> str:
    """The stem without its band token, so the parts of one acquisition share an id."""
    if not band_from_name:
        return stem
    without = _S2_BAND.sub("", stem, count=1)
    if without != stem:
        return without
    return re.sub(r"[_\-.][^_\-.]+$", "", stem) or stem


def _open(path: Path) -> ImageStack:
    try:
        return open_image(path)
    except SitewatchError as exc:
        raise _Skip(str(exc)) from None


def _file_draft(f: Path) -> SceneDraft:
    when = parse_date(f.name)
    if when is None:
        raise _Skip(no_date_reason(f.name), dateless=True)
    stack = _open(f)
    meta: dict[str, object] = {"source": str(f)}
    bbox = _lonlat_bbox(stack.grid)
    quality = _QUALITY.search(f.stem)
    if quality and stack.count == 1:
        return SceneDraft(
            id=_scene_stem(f.stem, True),
            datetime=when,
            source=str(f),
            quality=BandAsset(str(f), 1),
            metadata={**meta, "quality_kind": quality.group(1).lower()},
            bbox=bbox,
        )
    names = stack.names
    from_name = None if stack.named or stack.count != 1 else band_id_from_filename(f.name)
    if from_name:
        names = [from_name]
    # Unnamed bands stay positional (band1, band2...): such files still match
    # each other when every date has the same layout, as in `sitewatch change`.
    meta["named_bands"] = stack.named or from_name is not None
    return SceneDraft(
        id=_scene_stem(f.stem, from_name is not None),
        datetime=when,
        source=str(f),
        bands={n: BandAsset(str(b.path), b.index) for n, b in zip(names, stack.bands)},
        metadata=meta,
        bbox=bbox,
    )


def _folder_date(folder: Path, files: list[Path]) -> dt.datetime:
    when = parse_date(folder.name)
    if when is not None:
        return when
    found = sorted(w for w in (parse_date(f.name) for f in files) if w is not None)
    if not found:
        raise _Skip(
            f"no date in the folder name nor in its files' names (expected {DATE_FORMATS})",
            dateless=True,
        )
    days = sorted({w.date().isoformat() for w in found})
    if len(days) > 1:
        raise _Skip(
            f"its files carry different dates ({', '.join(days)}); put each date's band "
            "files in a folder of their own"
        )
    return found[0]


def _folder_draft(folder: Path, files: list[Path]) -> SceneDraft:
    if not files:
        raise _Skip(
            "holds no image files directly (sub-folders are read one level deep, so nested "
            "products such as .SAFE are not); put the band files in it"
        )
    when = _folder_date(folder, files)
    stack = _open(folder)
    quality = next((f for f in files if _QUALITY.search(f.stem)), None)
    meta: dict[str, object] = {"source": str(folder), "named_bands": True}
    if quality is not None:
        match = _QUALITY.search(quality.stem)
        meta["quality_kind"] = match.group(1).lower() if match else "mask"
    return SceneDraft(
        id=folder.name,
        datetime=when,
        source=str(folder),
        bands={b.name: BandAsset(str(b.path), b.index) for b in stack.bands},
        quality=BandAsset(str(quality), 1) if quality is not None else None,
        metadata=meta,
        bbox=_lonlat_bbox(stack.grid),
    )


def read_folder(
    path: Path,
    *,
    bbox: BBox | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> Catalog:
    """Scenes of ``path``; see :func:`sitewatch.io.catalog.catalog_from_folder`."""
    if not path.exists():
        raise MissingFileError(f"imagery: {path}: no such folder; check the path")
    if not path.is_dir():
        raise InputError(
            f"imagery: {path} is a file, not a folder; give the folder that holds the dated "
            "images (open_catalog also reads STAC JSON files)"
        )
    drafts: list[SceneDraft] = []
    skipped: list[tuple[str, str]] = []
    dateless: list[str] = []
    images = 0
    for entry in sorted(path.iterdir()):
        if entry.name.startswith("."):
            continue  # hidden files and folders (.DS_Store, .git) are never imagery
        try:
            if entry.is_dir():
                files = sorted(f for f in entry.iterdir() if _is_image(f))
                images += len(files)
                drafts.append(_folder_draft(entry, files))
            elif _is_image(entry):
                images += 1
                drafts.append(_file_draft(entry))
            # other files (site.geojson, notes, sidecars) are not imagery: ignored
        except _Skip as skip:
            skipped.append((str(entry), str(skip)))
            if skip.dateless:
                dateless.append(str(entry))
    if images == 0:
        raise CatalogError(
            f"imagery: no image files in {path}; put GeoTIFFs there (or sub-folders of "
            f"per-band files) whose names carry the acquisition date ({DATE_FORMATS})"
        )
    if not drafts:
        if dateless and len(dateless) == len(skipped):
            more = ", ..." if len(dateless) > 3 else ""
            examples = ", ".join(Path(d).name for d in dateless[:3]) + more
            raise CatalogError(
                f"imagery: no file or sub-folder name in {path} carries a date ({examples}); "
                f"name them with {DATE_FORMATS}, e.g. 2019-02-14.tif or "
                "S2A_MSIL2A_20190214T022331_..._B04.tif"
            )
        where, why = next((s for s in skipped if s[0] not in dateless), skipped[0])
        raise CatalogError(
            f"imagery: no readable scene in {path} ({len(skipped)} skipped; {where}: {why}); "
            "fix or remove those files"
        )
    return finish(drafts, skipped, bbox=bbox, start=start, end=end)
