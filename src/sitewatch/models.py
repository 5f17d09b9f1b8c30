"""Plain data shared by the pipeline stages: sites, their zones, the site grid and scenes.

Geometries are shapely objects in EPSG:4326, (lon, lat) order, as in RFC 7946
GeoJSON. pyproj loads only when a geometry is reprojected, so importing this
module stays cheap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import shapely
from affine import Affine
from shapely.geometry import MultiPolygon, Polygon

from .errors import InputError

if TYPE_CHECKING:
    from pyproj import Transformer

AreaGeometry: TypeAlias = Polygon | MultiPolygon

__all__ = [
    "AreaGeometry",
    "BandAsset",
    "ContextEvent",
    "Scene",
    "SensorKind",
    "Site",
    "SiteGrid",
    "Zone",
    "utm_epsg",
]


@dataclass(frozen=True)
class Zone:
    """A named part of a site (``launch_pad``, ``gantry``... or any name).

    Parameters
    ----------
    name : str
        Unique within its site.
    geometry : Polygon or MultiPolygon
        In EPSG:4326, inside the site's polygon.
    """

    name: str
    geometry: AreaGeometry


@dataclass(frozen=True)
class ContextEvent:
    """A dated outside event shown alongside a site's timeline (e.g. a summit)."""

    date: dt.date
    label: str


@dataclass(frozen=True)
class Site:
    """A named area of interest with optional zones, a profile and context events.

    Parameters
    ----------
    name : str
        Shown in reports and stored in the workspace.
    profile : str
        Which indicators apply: ``launch_site``, ``construction`` or ``generic``.
    geometry : Polygon or MultiPolygon
        The area of interest in EPSG:4326.
    zones : tuple of Zone
        Named polygons inside ``geometry``, in file order.
    context_events : tuple of ContextEvent
        Dated outside events, in file order.
    """

    name: str
    profile: str
    geometry: AreaGeometry
    zones: tuple[Zone, ...] = ()
    context_events: tuple[ContextEvent, ...] = ()

    @property
    def centroid(self) -> tuple[float, float]:
        """(lon, lat) of the site polygon's centroid."""
        c = self.geometry.centroid
        return float(c.x), float(c.y)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees."""
        west, south, east, north = self.geometry.bounds
        return float(west), float(south), float(east), float(north)

    @property
    def zone_names(self) -> tuple[str, ...]:
        return tuple(z.name for z in self.zones)

    def zone(self, name: str) -> Zone:
        """The zone called ``name``; :class:`InputError` names the known zones otherwise."""
        for z in self.zones:
            if z.name == name:
                return z
        known = ", ".join(self.zone_names) or "none"
        raise InputError(
            f"zone: {name!r} is not a zone of site {self.name!r} (its zones: {known}); "
            "use one of those names"
        )

    def utm_crs(self) -> str:
        """EPSG code (``"EPSG:326zz"`` north, ``"EPSG:327zz"`` south) of the centroid's UTM zone."""
        lon, lat = self.centroid
        return f"EPSG:{utm_epsg(lon, lat)}"

    def geometry_in(self, crs: Any) -> AreaGeometry:
        """The site polygon in ``crs`` (anything ``pyproj.CRS.from_user_input`` accepts)."""
        return _to_crs(self.geometry, crs)

    def zone_geometries_in(self, crs: Any) -> dict[str, AreaGeometry]:
        """Each zone's polygon in ``crs``, keyed by zone name, in file order."""
        return {z.name: _to_crs(z.geometry, crs) for z in self.zones}


@dataclass(frozen=True)
class SiteGrid:
    """The analysis raster of a site: north-up, square pixels, in a projected CRS.

    Parameters
    ----------
    crs : str
        ``"EPSG:nnnnn"``, the site's UTM zone.
    transform : Affine
        Pixel (col, row) to CRS (x, y) of the top-left corner of each pixel.
    width, height : int
        Size in pixels.
    """

    crs: str
    transform: Affine
    width: int
    height: int

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols), the shape of an array on this grid."""
        return self.height, self.width

    @property
    def pixel_size(self) -> float:
        """Pixel side in CRS units (metres)."""
        return float(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the grid's CRS."""
        left, top = self.transform.c, self.transform.f
        right = left + self.width * self.transform.a
        bottom = top + self.height * self.transform.e
        return float(left), float(bottom), float(right), float(top)


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 UTM zone holding (lon, lat).

    Follows the UTM grid's own exceptions: zone 32V is widened over south-west
    Norway and zones 31X-37X are re-cut around Svalbard, so sites there get the
    zone local maps use. Outside 80 S - 84 N (where UPS applies) the nearest
    UTM zone is still returned; a site-sized grid stays usable there.
    """
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise InputError(
            f"lon, lat: ({lon}, {lat}) is not a WGS 84 position; give lon in [-180, 180] "
            "and lat in [-90, 90]"
        )
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)  # lon = 180 belongs to zone 60
    if 56.0 <= lat < 64.0 and 3.0 <= lon < 12.0:
        zone = 32
    elif 72.0 <= lat < 84.0 and 0.0 <= lon < 42.0:
        # Svalbard: only odd zones 31, 33, 35, 37, with edges at 9, 21 and 33 E.
        zone = 31 if lon < 9.0 else 33 if lon < 21.0 else 35 if lon < 33.0 else 37
    return (32600 if lat >= 0.0 else 32700) + zone


@lru_cache(maxsize=32)
def _transformer(dst: Any) -> Transformer:
    # Building a transformer queries PROJ's database; sites reproject their
    # zones to the same grid CRS many times, so keep the few in use.
    from pyproj import CRS, Transformer

    return Transformer.from_crs(CRS.from_epsg(4326), CRS.from_user_input(dst), always_xy=True)


def _to_crs(geometry: AreaGeometry, crs: Any) -> AreaGeometry:
    transformer = _transformer(crs)

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        out = np.column_stack([x, y])
        if not np.isfinite(out).all():
            raise InputError(
                f"crs: {crs!r} cannot represent the site's coordinates (projection gave "
                "inf/NaN); use a CRS whose area of use covers the site, e.g. its UTM zone"
            )
        return out

    projected: AreaGeometry = shapely.transform(geometry, project)
    return projected


SensorKind: TypeAlias = Literal["optical", "sar"]


@dataclass(frozen=True)
class BandAsset:
    """Where one band of a scene lives: a file path or URL and its 1-based band index."""

    href: str
    band_index: int = 1

    def __post_init__(self) -> None:
        if self.band_index < 1:
            raise InputError(
                f"band_index: {self.band_index} is not a band index of {self.href}; "
                "band indexes start at 1"
            )


@dataclass(frozen=True)
class Scene:
    """One acquisition: its bands by common name, quality asset and metadata.

    Parameters
    ----------
    id : str
        Unique within a catalog (file or folder stem, or STAC item id).
    datetime : datetime.datetime
        Acquisition time; must be timezone-aware, stored in UTC.
    sensor : {"optical", "sar"}
        Radar scenes carry polarisation bands (``vv``, ``vh``, ``hh``, ``hv``).
    bands : Mapping of str to BandAsset
        Common band names (``blue``, ``nir``, ``swir16``, ``vv``...) to assets; a
        multi-band file appears under several names with different indexes.
    quality : BandAsset or None
        Cloud / quality layer (Sentinel-2 SCL, Landsat QA_PIXEL...) when known.
    cloud_cover : float or None
        Percentage of cloud over the whole scene (``eo:cloud_cover``) when known.
    metadata : Mapping of str to object
        Anything else known: sun and view angles, platform, source path.
    bbox : tuple of float or None
        (west, south, east, north) in degrees, when known.
    """

    id: str
    datetime: dt.datetime
    sensor: SensorKind
    bands: Mapping[str, BandAsset]
    quality: BandAsset | None = None
    cloud_cover: float | None = None
    metadata: Mapping[str, object] = field(default_factory=dict)
    bbox: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        if self.datetime.tzinfo is None or self.datetime.utcoffset() is None:
            raise InputError(
                f"datetime: {self.datetime.isoformat()} of scene {self.id!r} has no time zone; "
                "give an aware datetime (acquisition times are UTC)"
            )
        if self.sensor not in ("optical", "sar"):
            raise InputError(
                f"sensor: {self.sensor!r} of scene {self.id!r} is not a sensor kind; "
                "use 'optical' or 'sar'"
            )
        if not self.bands:
            raise InputError(f"bands: scene {self.id!r} has no band; give at least one")
        if self.cloud_cover is not None and not 0.0 <= self.cloud_cover <= 100.0:
            raise InputError(
                f"cloud_cover: {self.cloud_cover} of scene {self.id!r} is not a percentage; "
                "give a value in [0, 100] or None"
            )
        # Frozen means frozen: read-only views, so a scene cannot change under a stage.
        object.__setattr__(self, "datetime", self.datetime.astimezone(dt.timezone.utc))
        object.__setattr__(self, "bands", MappingProxyType(dict(self.bands)))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
        if self.bbox is not None:
            if len(self.bbox) != 4:
                raise InputError(
                    f"bbox: {self.bbox!r} of scene {self.id!r} is not four numbers; "
                    "give (west, south, east, north) in degrees or None"
                )
            object.__setattr__(self, "bbox", tuple(float(v) for v in self.bbox))

    def __hash__(self) -> int:
        # The generated hash would fail on the band mapping; id and time identify a scene.
        return hash((self.id, self.datetime))

    @property
    def date(self) -> dt.date:
        """The UTC calendar day of the acquisition."""
        return self.datetime.date()

    @property
    def band_names(self) -> tuple[str, ...]:
        return tuple(self.bands)


EventKind: TypeAlias = Literal["appeared", "disappeared", "modified", "transient"]


@dataclass(frozen=True)
class GrowthStep:
    """The footprint of a growing event after one acquisition: its date and area so far."""

    date: dt.date
    area_m2: float


@dataclass(frozen=True, eq=False)
class Event:
    """A tracked change: a connected region detected at one acquisition and followed after.

    The footprint lives on the site grid as a cropped boolean ``mask`` placed at
    ``offset``; polygons are made from it by the writers.

    Parameters
    ----------
    event_id : str
        ``e0001``...: numbered by ``first_seen``, then by the footprint's first pixel
        in row-major order.
    first_seen : datetime.date
        Date of the first acquisition in which the change is detected.
    last_unchanged : datetime.date or None
        Date of the last valid (clear) acquisition of the footprint before ``first_seen``.
    zone : str or None
        The zone covering most of the footprint; None when most of it lies outside all zones.
    kind : {"appeared", "disappeared", "modified", "transient"}
        ``transient`` when the change reverted at the next clear observation.
    area_m2 : float
        Footprint area.
    score : float
        0..1, higher is surer: ``(1 - p_value)`` times the share of re-observed pixels
        that agreed with the verdict (0.5 while unconfirmed).
    p_value : float
        Probability of evidence this strong under "no change" (see ``timeline.events``).
    confirmed : bool
        False while no later clear observation has settled persistent against transient.
    confirmed_on : datetime.date or None
        Date of the acquisition that settled it.
    change : float
        Mean of the signed change measure over the footprint at detection (positive:
        brighter / new structure).
    growth : tuple of GrowthStep
        One step per acquisition at which the event was detected or grew, with the
        cumulative area after it; the first step is ``first_seen``.
    mask : numpy.ndarray
        ``(rows, cols)`` bool footprint cropped to its bounding box (read-only).
    offset : tuple of int
        (row, col) of ``mask[0, 0]`` on the site grid.
    grid_shape : tuple of int
        (height, width) of the site grid.
    sensors : tuple of str
        The sensor kinds that saw it (``optical``, ``sar``): two when a radar and
        an optical detection of the same place and time were fused.
    """

    event_id: str
    first_seen: dt.date
    last_unchanged: dt.date | None
    zone: str | None
    kind: EventKind
    area_m2: float
    score: float
    p_value: float
    confirmed: bool
    confirmed_on: dt.date | None
    change: float
    growth: tuple[GrowthStep, ...]
    mask: np.ndarray
    offset: tuple[int, int]
    grid_shape: tuple[int, int]
    sensors: tuple[SensorKind, ...] = ("optical",)

    def __post_init__(self) -> None:
        mask = np.array(self.mask, dtype=bool)  # own copy: the event cannot change under a stage
        mask.setflags(write=False)
        object.__setattr__(self, "mask", mask)

    @property
    def pixel_count(self) -> int:
        return int(self.mask.sum())

    @property
    def footprint(self) -> np.ndarray:
        """The footprint as a full ``grid_shape`` bool array."""
        out = np.zeros(self.grid_shape, dtype=bool)
        r, c = self.offset
        out[r : r + self.mask.shape[0], c : c + self.mask.shape[1]] = self.mask
        return out


@dataclass(frozen=True)
class ZoneTimelineRow:
    """One row of ``timeline.csv``: a zone (``_site`` for the whole site) at one date.

    Parameters
    ----------
    date : datetime.date
    zone : str
    clear_fraction : float
        Share of the zone's pixels that could be judged at this date (clear and with
        a reference: ``TrackedSeries.judged``).
    changed_fraction : float
        Share of the clear pixels newly changed at this date (NaN when none was clear).
    changed_area_m2 : float
    activity_index : float
        ``changed_fraction`` where the zone was observable enough, NaN otherwise
        (see ``timeline.zones``).
    anomaly_z : float
        Robust z-score of ``activity_index`` against the zone's earlier dates (NaN
        until enough history).
    sensor : str
        Kind of the acquisition of that date (``optical`` or ``sar``).
    """

    date: dt.date
    zone: str
    clear_fraction: float
    changed_fraction: float
    changed_area_m2: float
    activity_index: float
    anomaly_z: float
    sensor: SensorKind = "optical"


__all__ += ["Event", "EventKind", "GrowthStep", "ZoneTimelineRow"]


StatusLevel: TypeAlias = Literal["quiet", "activity", "elevated", "high"]
STATUS_LEVELS: tuple[StatusLevel, ...] = ("quiet", "activity", "elevated", "high")


@dataclass(frozen=True)
class IndicatorResult:
    """One indicator of a profile evaluated on a run as of one date.

    Parameters
    ----------
    name : str
        The indicator's name in its profile.
    zone : str or None
        The zone it looked at; None for a site-wide indicator.
    signal : str
        Which signal it measured (e.g. ``changed_area``, ``activity_anomaly``).
    value : float
        The signal's value over the indicator's window (NaN when not observable).
    threshold : float
    triggered : bool
    level : StatusLevel
        The status this indicator raises the site to when triggered.
    evidence : tuple of str
        Ids of the events behind the value.
    false_alarm_rate : float or None
        Share of dates on which it triggered on the ``quiet`` scenario, where measured.
    """

    name: str
    zone: str | None
    signal: str
    value: float
    threshold: float
    triggered: bool
    level: StatusLevel
    evidence: tuple[str, ...] = ()
    false_alarm_rate: float | None = None


@dataclass(frozen=True)
class StatusPoint:
    """The site's status level and score as of one acquisition date."""

    date: dt.date
    status: StatusLevel
    score: float


@dataclass(frozen=True)
class Assessment:
    """A profile evaluated on a run: ``assessment.json`` (DESIGN.md).

    Parameters
    ----------
    site : str
    profile : str
    as_of : datetime.date
    status : StatusLevel
    score : float
        0..1, higher means more activity than the site's baseline.
    indicators : tuple of IndicatorResult
        As of ``as_of``.
    summary : str
        Plain sentences citing zones, dates, areas and event ids.
    history : tuple of StatusPoint
        Status per acquisition date, oldest first.
    """

    site: str
    profile: str
    as_of: dt.date
    status: StatusLevel
    score: float
    indicators: tuple[IndicatorResult, ...]
    summary: str
    history: tuple[StatusPoint, ...] = ()


__all__ += ["STATUS_LEVELS", "Assessment", "IndicatorResult", "StatusLevel", "StatusPoint"]


@dataclass(frozen=True)
class SceneSeries:
    """One sensor's acquisitions on the site grid as the change tests saw them.

    Optical: reflectance co-registered to the alignment target and matched to the
    reference state, ``valid`` the pixels clear and tested at each date.  Radar:
    linear intensity, ``valid`` the pixels observed.  Kept for the evidence (chips,
    maps); ``data`` is ``(dates, bands, h, w)`` float32.
    """

    dates: tuple[dt.date, ...]
    scene_ids: tuple[str, ...]
    bands: tuple[str, ...]
    data: np.ndarray
    valid: np.ndarray


__all__ += ["SceneSeries"]
