"""Scene catalogs: every imagery source becomes one time-sorted list of :class:`Scene`.

Three sources are understood, all through :func:`open_catalog`:

- a folder of images whose file names (or sub-folder names, for per-band files)
  carry the acquisition date (:mod:`sitewatch.io.catalog_folder`);
- a static STAC catalog, collection, item collection or item JSON, read with
  pystac (:mod:`sitewatch.io.catalog_stac`);
- a STAC API URL, searched with pystac-client by bounding box and date range.

Each source yields scene drafts; :func:`finish` applies the same filters, merges
same-day duplicates and sorts, so every source behaves alike from there on.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CatalogError, InputError, MissingFileError
from ..models import BandAsset, Scene, SensorKind

__all__ = [
    "DATE_FORMATS",
    "Catalog",
    "catalog_from_folder",
    "catalog_from_stac",
    "open_catalog",
    "parse_date",
    "sensor_for_bands",
]

DATE_FORMATS = "YYYY-MM-DD, YYYYMMDD or Sentinel-style YYYYMMDDTHHMMSS"

SAR_BANDS = frozenset({"vv", "vh", "hh", "hv"})

# A date is 8 digits (optionally dashed as YYYY-MM-DD) not glued to other digits,
# optionally followed by a THHMMSS time; digit runs such as orbit or tile numbers
# of other lengths never match. The same separator is used twice (\2).
_DATE = re.compile(
    r"(?<!\d)(\d{4})(-?)(\d{2})\2(\d{2})(?:T(\d{2}):?(\d{2}):?(\d{2}))?(?!\d)",
)

# Oldest imagery worth cataloguing (declassified 1960s reconnaissance film); bounds
# keep 8-digit identifiers such as product numbers from passing for dates.
_YEARS = range(1900, 2101)

BBox = tuple[float, float, float, float]
TimeBound = dt.date | dt.datetime | str | None


@dataclass(frozen=True)
class Catalog:
    """Scenes of a source, sorted by time, and what was left out and why.

    Parameters
    ----------
    scenes : list of Scene
        Sorted by (datetime, id); at most one scene per UTC day and sensor kind.
    skipped : list of (str, str)
        (path, URL or item id, reason) for each entry that did not become a scene:
        no date in its name, unreadable, no usable band, or a same-day duplicate.
    """

    scenes: list[Scene]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.scenes)

    def __iter__(self) -> Iterator[Scene]:
        return iter(self.scenes)

    @property
    def dates(self) -> list[dt.date]:
        """UTC acquisition days, in order."""
        return [s.date for s in self.scenes]


def _scan_date(text: str) -> tuple[dt.datetime | None, str | None]:
    """First valid date in ``text``, and the first date-shaped token that was not valid."""
    invalid: str | None = None
    for m in _DATE.finditer(text):
        year, _, month, day, hh, mm, ss = m.groups()
        try:
            if int(year) not in _YEARS:
                raise ValueError(year)
            when = dt.datetime(
                int(year), int(month), int(day),
                int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=dt.timezone.utc,
            )  # fmt: skip
        except ValueError:
            invalid = invalid or m.group(0)
            continue
        return when, invalid
    return None, invalid


def parse_date(text: str) -> dt.datetime | None:
    """The acquisition time a file or folder name carries, in UTC.

    Accepts ``YYYY-MM-DD``, ``YYYYMMDD`` and ``YYYYMMDDTHHMMSS``; the first valid
    date in the name wins, as in Sentinel product names whose sensing time comes
    before the processing time
    (``S2A_MSIL2A_20190214T022331_N0211_R103_T51SVG_20190214T055203``).

    Returns
    -------
    datetime or None
        Timezone-aware UTC; midnight when the name holds no time. None when the
        name holds no date, or only impossible ones (``20191341``).
    """
    return _scan_date(text)[0]


def no_date_reason(name: str) -> str:
    """Why ``name`` gives no date, for a catalog's ``skipped`` list."""
    _, invalid = _scan_date(name)
    if invalid:
        return f"{invalid!r} in the name is not a valid date (expected {DATE_FORMATS})"
    return f"no date in the name (expected {DATE_FORMATS})"


def sensor_for_bands(names: Sequence[str]) -> SensorKind:
    """``"sar"`` when every band is a polarisation (vv, vh, hh, hv), else ``"optical"``.

    Raises
    ------
    InputError
        When radar and optical bands are mixed.
    """
    sar = [n for n in names if n in SAR_BANDS]
    if sar and len(sar) != len(names):
        other = [n for n in names if n not in SAR_BANDS]
        raise InputError(
            f"bands: {', '.join(names)} mix radar ({', '.join(sar)}) and optical "
            f"({', '.join(other)}) bands; give each sensor's bands as separate scenes"
        )
    return "sar" if sar else "optical"


@dataclass
class SceneDraft:
    """A scene under construction, before same-day duplicates are merged."""

    id: str
    datetime: dt.datetime
    source: str
    bands: dict[str, BandAsset] = field(default_factory=dict)
    quality: BandAsset | None = None
    cloud_cover: float | None = None
    metadata: dict[str, object] = field(default_factory=dict)
    bbox: BBox | None = None

    @property
    def kind(self) -> SensorKind:
        # A quality-only draft (e.g. a lone SCL file) belongs with optical scenes.
        return sensor_for_bands(list(self.bands))

    def keys(self) -> set[str]:
        """Band names, plus ``quality`` when it has one: what a merge must not overwrite."""
        return set(self.bands) | ({"quality"} if self.quality is not None else set())


def _utc(value: dt.datetime) -> dt.datetime:
    # Naive times are taken as UTC, the time base of every acquisition timestamp.
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def time_bound(value: TimeBound, name: str, *, end: bool) -> dt.datetime | None:
    """``start``/``end`` as an aware UTC datetime; a plain date covers its whole day."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed: dt.date = (
                dt.date.fromisoformat(text)
                if len(text) == 10
                else dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            )
        except ValueError:
            raise InputError(
                f"{name}: {value!r} is not a date; give YYYY-MM-DD or an ISO 8601 date-time"
            ) from None
        value = parsed
    if isinstance(value, dt.datetime):
        return _utc(value)
    if isinstance(value, dt.date):
        day_time = dt.time.max if end else dt.time.min
        return dt.datetime.combine(value, day_time, tzinfo=dt.timezone.utc)
    raise InputError(f"{name}: {value!r} is not a date; give a date, a datetime or YYYY-MM-DD")


def time_range(start: TimeBound, end: TimeBound) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Validated (start, end) bounds in UTC, both inclusive."""
    lo, hi = time_bound(start, "start", end=False), time_bound(end, "end", end=True)
    if lo and hi and lo > hi:
        raise InputError(f"start, end: {start} is after {end}; give start <= end")
    return lo, hi


def check_bbox(bbox: Sequence[float] | None) -> BBox | None:
    """Validate (west, south, east, north) in degrees."""
    if bbox is None:
        return None
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise InputError(
            f"bbox: {bbox!r} is not four numbers; give (west, south, east, north) in degrees"
        ) from None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise InputError(
            f"bbox: {bbox!r} is not (west, south, east, north) in degrees; give west <= east "
            "in [-180, 180] and south <= north in [-90, 90]"
        )
    return west, south, east, north


def _intersects(a: BBox, b: BBox) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _clearer(a: SceneDraft, b: SceneDraft) -> tuple[SceneDraft, SceneDraft, str]:
    """(kept, dropped, why) for two same-day scenes with overlapping bands."""
    if a.cloud_cover is not None and b.cloud_cover is not None and a.cloud_cover != b.cloud_cover:
        kept, dropped = (a, b) if a.cloud_cover < b.cloud_cover else (b, a)
        why = f"cloud cover {kept.cloud_cover:g}% < {dropped.cloud_cover:g}%"
    elif len(a.bands) != len(b.bands):
        kept, dropped = (a, b) if len(a.bands) > len(b.bands) else (b, a)
        why = f"{len(kept.bands)} bands > {len(dropped.bands)}"
    else:
        kept, dropped, why = a, b, "the first in time and id order"
    return kept, dropped, why


def _merge(a: SceneDraft, b: SceneDraft) -> SceneDraft:
    """One scene from two parts of the same acquisition (disjoint band sets)."""
    covers = [c for c in (a.cloud_cover, b.cloud_cover) if c is not None]
    bbox = a.bbox or b.bbox
    if a.bbox and b.bbox:
        bbox = (
            min(a.bbox[0], b.bbox[0]), min(a.bbox[1], b.bbox[1]),
            max(a.bbox[2], b.bbox[2]), max(a.bbox[3], b.bbox[3]),
        )  # fmt: skip
    prior = a.metadata.get("merged_from")
    merged_from = list(prior) if isinstance(prior, list) else [a.id]
    return SceneDraft(
        id=a.id,
        datetime=min(a.datetime, b.datetime),
        source=a.source,
        bands={**a.bands, **b.bands},
        quality=a.quality or b.quality,
        # Parts of one acquisition share its clouds; the larger figure is the safe one.
        cloud_cover=max(covers) if covers else None,
        metadata={**b.metadata, **a.metadata, "merged_from": [*merged_from, b.id]},
        bbox=bbox,
    )


def _same_day(drafts: list[SceneDraft], skipped: list[tuple[str, str]]) -> list[SceneDraft]:
    groups: dict[tuple[dt.date, str], list[SceneDraft]] = {}
    for d in sorted(drafts, key=lambda d: (d.datetime, d.id)):
        groups.setdefault((d.datetime.date(), d.kind), []).append(d)
    out: list[SceneDraft] = []
    for (day, _), group in groups.items():
        current = group[0]
        for other in group[1:]:
            if current.keys().isdisjoint(other.keys()):
                current = _merge(current, other)
                continue
            current, dropped, why = _clearer(current, other)
            skipped.append(
                (dropped.source, f"same day ({day}) as {current.id!r}, which was kept: {why}")
            )
        out.append(current)
    return out


def finish(
    drafts: list[SceneDraft],
    skipped: list[tuple[str, str]],
    *,
    bbox: BBox | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> Catalog:
    """Filter drafts by bbox and time, merge same-day duplicates, sort, build scenes."""
    kept: list[SceneDraft] = []
    for d in drafts:
        d.datetime = _utc(d.datetime)
        try:
            d.kind  # noqa: B018 -- mixed radar/optical bands raise here
        except InputError as exc:
            skipped.append((d.source, str(exc)))
            continue
        if (start and d.datetime < start) or (end and d.datetime > end):
            continue  # outside the asked range: filtered, not a problem worth reporting
        if bbox and d.bbox and not _intersects(bbox, d.bbox):
            continue
        kept.append(d)
    scenes: list[Scene] = []
    for d in _same_day(kept, skipped):
        if not d.bands:
            skipped.append((d.source, "holds only a quality layer and no image band that day"))
            continue
        scenes.append(
            Scene(
                id=d.id,
                datetime=d.datetime,
                sensor=d.kind,
                bands=d.bands,
                quality=d.quality,
                cloud_cover=d.cloud_cover,
                metadata=d.metadata,
                bbox=d.bbox,
            )
        )
    scenes.sort(key=lambda s: (s.datetime, s.id))
    return Catalog(scenes, skipped)


def catalog_from_folder(
    path: str | Path,
    *,
    bbox: Sequence[float] | None = None,
    start: TimeBound = None,
    end: TimeBound = None,
) -> Catalog:
    """Scenes of a folder of dated images or dated sub-folders of per-band files.

    Parameters
    ----------
    path
        Folder holding images whose names carry the date (``2019-02-14.tif``,
        ``S2A_MSIL2A_20190214T022331_..._B04.tif``), and/or sub-folders of
        single-band files (``20190214/..._B02.tif``) dated by their own name or
        by their files' names.
    bbox, start, end
        Optional filters: (west, south, east, north) in degrees, and inclusive
        dates or datetimes (naive ones are UTC; a date covers its whole day).

    Raises
    ------
    MissingFileError, InputError, CatalogError
    """
    from .catalog_folder import read_folder

    lo, hi = time_range(start, end)
    return read_folder(Path(path), bbox=check_bbox(bbox), start=lo, end=hi)


def catalog_from_stac(
    path_or_url: str | Path,
    *,
    bbox: Sequence[float] | None = None,
    start: TimeBound = None,
    end: TimeBound = None,
    collection: str | None = None,
) -> Catalog:
    """Scenes of a static STAC JSON (file or URL ending in ``.json``) or a STAC API.

    Parameters
    ----------
    path_or_url
        A STAC catalog, collection, item collection or item JSON (asset hrefs
        resolve relative to it), or the landing page URL of a STAC API.
    bbox
        (west, south, east, north) in degrees; required for an API search.
    start, end
        Inclusive dates or datetimes (naive ones are UTC).
    collection
        Keep items of this collection only (the API's ``collections`` parameter).

    Raises
    ------
    MissingFileError, InputError, CatalogError
    """
    from .catalog_stac import read_stac

    lo, hi = time_range(start, end)
    return read_stac(
        str(path_or_url), bbox=check_bbox(bbox), start=lo, end=hi, collection=collection
    )


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def open_catalog(
    source: str | Path,
    *,
    bbox: Sequence[float] | None = None,
    start: TimeBound = None,
    end: TimeBound = None,
    collection: str | None = None,
) -> Catalog:
    """Scenes of any imagery source: a folder, a STAC JSON file or an http(s) URL.

    See :func:`catalog_from_folder` and :func:`catalog_from_stac` for the
    parameters. ``collection`` applies to STAC sources only.

    Raises
    ------
    MissingFileError, InputError, CatalogError
    """
    text = str(source)
    if is_url(text):
        return catalog_from_stac(text, bbox=bbox, start=start, end=end, collection=collection)
    path = Path(source)
    if not path.exists():
        raise MissingFileError(
            f"imagery: {path}: no such file or folder; give a folder of dated images, "
            "a STAC JSON file or a STAC API URL"
        )
    if path.is_dir():
        if collection is not None:
            raise InputError(
                f"collection: {collection!r} applies to STAC sources, but {path} is a folder; "
                "drop the collection"
            )
        return catalog_from_folder(path, bbox=bbox, start=start, end=end)
    if path.suffix.lower() in (".json", ".geojson"):
        return catalog_from_stac(path, bbox=bbox, start=start, end=end, collection=collection)
    raise CatalogError(
        f"imagery: {path} is a file but not STAC JSON; give the folder that holds the dated "
        "images, a STAC catalog/collection/item-collection .json or a STAC API URL"
    )
