"""The vector layout of the simulated launch site, in metres on its UTM grid.

The site is drawn after the Sohae launch station (39.66 N, 124.705 E, UTM
51N): a launch pad with its gantry tower, a rail-mounted transfer structure
on rails west of the pad, an engine test stand to the north-west, an assembly
hall, propellant tanks and support buildings, joined by roads, on a coast of
fields, forest and bare ground.

Coordinates are given for a nominal 1536 m square scene and scaled to the
scene actually rendered, so a 128 px test scene keeps the same picture.
Every structure is a convex polygon (or several), which the renderer turns
into anti-aliased coverage analytically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import shapely
from affine import Affine
from shapely.geometry import MultiPolygon, Polygon
from shapely.ops import unary_union

from ..models import AreaGeometry

if TYPE_CHECKING:
    from pyproj import Transformer

__all__ = [
    "DEFAULT_PIXEL_M",
    "DEFAULT_SIZE",
    "NOMINAL_EXTENT_M",
    "SITE_CRS",
    "SITE_LONLAT",
    "Layout",
    "Road",
    "Structure",
    "build_layout",
    "octagon",
    "rectangle",
    "to_lonlat",
]

SITE_LONLAT = (124.705, 39.66)
SITE_CRS = "EPSG:32651"  # UTM 51N holds 124.705 E
DEFAULT_PIXEL_M = 3.0
DEFAULT_SIZE = 512  # 1536 m at 3 m: the ~1.5 km site
NOMINAL_EXTENT_M = 1536.0  # the extent the layout below is drawn for
# Ground left around the site polygon inside the scene (nominal metres).
SITE_HALF_M = 700.0

Vertices = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Structure:
    """One convex piece of built ground (a roof, an apron, a tank, a crane part).

    Parameters
    ----------
    id : str
        Unique in the layout; events remove structures by id.
    material : str
        A key of :data:`sitewatch.sim.render.SPECTRA`.
    vertices : tuple of (x, y)
        Convex polygon in the layout's CRS (metres).
    height_m : float
        Above ground; casts a shadow along the sun azimuth when > 0.
    """

    id: str
    material: str
    vertices: Vertices
    height_m: float = 0.0

    @property
    def polygon(self) -> Polygon:
        return Polygon(self.vertices)


@dataclass(frozen=True)
class Road:
    """A road or rail line: a polyline with a width, drawn as capsules."""

    id: str
    material: str
    points: Vertices
    width_m: float


@dataclass(frozen=True)
class Layout:
    """Where everything is: grid, site and zone polygons, structures and roads.

    Parameters
    ----------
    crs : str
        ``"EPSG:32651"``.
    transform : Affine
        Top-left pixel corner to UTM metres; north-up, square pixels.
    width, height : int
        Scene size in pixels.
    scale : float
        Rendered extent over the nominal 1536 m (sizes and positions scale with it).
    site : Polygon
        The site's area of interest (UTM).
    zones : dict of str to Polygon
        Zone polygons (UTM), disjoint, inside the site.
    structures : tuple of Structure
        The built site before any event, in drawing order.
    roads : tuple of Road
        Drawn before the structures.
    coast_x : float
        Nominal easting (relative to the centre, metres) of the shore; sea lies west.
    """

    crs: str
    transform: Affine
    width: int
    height: int
    scale: float
    site: Polygon
    zones: dict[str, Polygon] = field(hash=False)
    structures: tuple[Structure, ...]
    roads: tuple[Road, ...]
    coast_x: float

    @property
    def pixel_m(self) -> float:
        return float(self.transform.a)

    @property
    def centre(self) -> tuple[float, float]:
        """UTM (x, y) of the scene centre."""
        x, y = self.transform @ (self.width / 2, self.height / 2)
        return float(x), float(y)

    def local(self, u: float, v: float) -> tuple[float, float]:
        """UTM (x, y) of nominal layout coordinates (metres east/north of the centre)."""
        cx, cy = self.centre
        return cx + u * self.scale, cy + v * self.scale

    def structure(self, sid: str) -> Structure:
        for s in self.structures:
            if s.id == sid:
                return s
        raise KeyError(sid)


def rectangle(cx: float, cy: float, w: float, h: float, angle_deg: float = 0.0) -> Vertices:
    """Counter-clockwise corners of a ``w`` x ``h`` rectangle centred on (cx, cy), rotated."""
    a = math.radians(angle_deg)
    ca, sa = math.cos(a), math.sin(a)
    corners = ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))
    return tuple((cx + x * ca - y * sa, cy + x * sa + y * ca) for x, y in corners)


def octagon(cx: float, cy: float, r: float) -> Vertices:
    """A regular octagon of circumradius ``r``: round tanks stay convex polygons."""
    return tuple(
        (
            cx + r * math.cos(k * math.pi / 4 + math.pi / 8),
            cy + r * math.sin(k * math.pi / 4 + math.pi / 8),
        )
        for k in range(8)
    )


# Zones as nominal (u0, v0, u1, v1) boxes, metres from the scene centre, x east, y north.
# Disjoint, so every event belongs to exactly one zone.
ZONE_BOXES: dict[str, tuple[float, float, float, float]] = {
    "launch_pad": (40.0, -160.0, 260.0, 60.0),
    "gantry": (260.0, -120.0, 340.0, 20.0),
    "engine_test_stand": (-560.0, 260.0, -260.0, 560.0),
    "rail_transfer": (-180.0, -140.0, 20.0, 40.0),
    "assembly_building": (-120.0, -520.0, 200.0, -300.0),
    "propellant_storage": (340.0, 220.0, 600.0, 440.0),
    "support": (-640.0, -600.0, -300.0, -200.0),
}

# (id, material, centre u, centre v, width, height, angle, height above ground), nominal metres.
_BASE_RECTS: tuple[tuple[str, str, float, float, float, float, float, float], ...] = (
    # launch pad apron and flame trench; the gantry tower stands east of it
    ("pad_apron", "concrete", 150, -50, 200, 190, 0, 0),
    ("pad_trench", "dark_roof", 200, -120, 26, 22, 0, 0),
    ("gantry_base", "concrete", 300, -50, 60, 60, 0, 0),
    ("gantry_tower", "steel", 295, -50, 30, 24, 0, 40),
    # rail transfer: a concrete strip, the rail-mounted structure and a shed
    ("rts_strip", "concrete", -80, -50, 190, 70, 0, 0),
    ("rts_structure", "steel_roof", -80, -50, 50, 36, 0, 30),
    ("rts_shed", "roof", -140, 0, 24, 16, 0, 6),
    # engine test stand: apron, stand, a control building, a bunker
    ("ets_apron", "concrete", -410, 400, 140, 110, 0, 0),
    ("ets_stand", "steel", -430, 430, 36, 30, 0, 45),
    ("ets_building", "dark_roof", -350, 460, 40, 24, 0, 8),
    ("ets_bunker", "roof", -470, 350, 30, 20, 0, 5),
    # assembly hall and annex
    ("asm_yard", "concrete", 40, -410, 220, 130, 0, 0),
    ("asm_hall", "roof", 40, -410, 160, 70, 0, 25),
    ("asm_annex", "dark_roof", 150, -360, 40, 30, 0, 10),
    # propellant storage: bunker (tanks are octagons below)
    ("prop_yard", "concrete", 470, 330, 220, 170, 0, 0),
    ("prop_bunker", "dark_roof", 520, 390, 40, 20, 0, 6),
    # support: vehicle park and buildings
    ("sup_park", "concrete", -400, -300, 60, 40, 0, 0),
    ("sup_b1", "roof", -560, -300, 40, 18, 0, 7),
    ("sup_b2", "roof", -560, -360, 40, 18, 0, 7),
    ("sup_b3", "dark_roof", -480, -440, 30, 30, 0, 9),
    ("sup_b4", "roof", -380, -480, 50, 16, 20, 7),
    ("sup_b5", "roof_blue", -560, -520, 36, 20, 0, 6),
)
_TANKS = ((400.0, 300.0), (440.0, 300.0), (480.0, 300.0), (400.0, 260.0))
_ROADS: tuple[tuple[str, str, tuple[tuple[float, float], ...], float], ...] = (
    ("road_south", "asphalt", ((40, -768), (40, -475)), 9),
    ("road_asm_pad", "asphalt", ((40, -345), (60, -250), (100, -145)), 8),
    ("road_pad_ets", "asphalt", ((60, 45), (-200, 200), (-380, 345)), 8),
    ("road_support", "asphalt", ((-370, -300), (-250, -330), (-70, -410)), 7),
    ("road_prop", "asphalt", ((250, 45), (400, 245)), 7),
    ("road_east", "asphalt", ((580, 400), (768, 520)), 8),
    ("road_west", "gravel", ((-560, -200), (-600, 100), (-768, 260)), 6),
    # rails: from the assembly hall north to the transfer strip, then east onto the pad
    ("rail_north", "rail", ((-60, -445), (-60, -85)), 5),
    ("rail_a", "rail", ((-175, -62), (60, -62)), 4),
    ("rail_b", "rail", ((-175, -38), (60, -38)), 4),
)


def build_layout(size: int = DEFAULT_SIZE, pixel_m: float = DEFAULT_PIXEL_M) -> Layout:
    """The launch-site layout on a ``size`` x ``size`` grid of ``pixel_m`` metres.

    Parameters
    ----------
    size : int
        Scene side in pixels (64 or more).
    pixel_m : float
        Pixel side in metres; the extent ``size * pixel_m`` scales the layout.
    """
    cx, cy = _site_centre_utm(pixel_m)
    half = size * pixel_m / 2
    transform = Affine(pixel_m, 0.0, cx - half, 0.0, -pixel_m, cy + half)
    scale = size * pixel_m / NOMINAL_EXTENT_M

    def at(u: float, v: float) -> tuple[float, float]:
        return cx + u * scale, cy + v * scale

    zones = {
        name: shapely.box(*at(u0, v0), *at(u1, v1)) for name, (u0, v0, u1, v1) in ZONE_BOXES.items()
    }
    site = shapely.box(*at(-SITE_HALF_M, -SITE_HALF_M), *at(SITE_HALF_M, SITE_HALF_M))
    structures = [
        Structure(sid, mat, rectangle(*at(u, v), w * scale, h * scale, ang), hgt)
        for sid, mat, u, v, w, h, ang, hgt in _BASE_RECTS
    ]
    structures += [
        Structure(f"prop_tank{k}", "tank", octagon(*at(u, v), 11 * scale), 12)
        for k, (u, v) in enumerate(_TANKS, start=1)
    ]
    roads = tuple(
        Road(rid, mat, tuple(at(u, v) for u, v in pts), w * scale) for rid, mat, pts, w in _ROADS
    )
    return Layout(
        crs=SITE_CRS, transform=transform, width=size, height=size, scale=scale,
        site=site, zones=zones, structures=tuple(structures), roads=roads, coast_x=-705.0,
    )  # fmt: skip


def union_of(parts: tuple[Structure, ...]) -> AreaGeometry:
    """One (Multi)Polygon covering ``parts`` (an event's footprint)."""
    geom = unary_union([p.polygon for p in parts])
    if not isinstance(geom, Polygon | MultiPolygon):  # pragma: no cover - parts have area
        raise ValueError("structures do not form an area")
    return geom


def _site_centre_utm(pixel_m: float) -> tuple[float, float]:
    # Snap the centre to whole pixels, so the grid sits on the usual UTM lattice.
    x, y = _to_utm().transform(*SITE_LONLAT)
    return round(x / pixel_m) * pixel_m, round(y / pixel_m) * pixel_m


@lru_cache(maxsize=1)
def _to_utm() -> Transformer:
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:4326", SITE_CRS, always_xy=True)


@lru_cache(maxsize=1)
def _to_lonlat() -> Transformer:
    from pyproj import Transformer

    return Transformer.from_crs(SITE_CRS, "EPSG:4326", always_xy=True)


def to_lonlat(geom: AreaGeometry) -> AreaGeometry:
    """A UTM 51N geometry in EPSG:4326 (lon, lat)."""

    def project(coords: np.ndarray) -> np.ndarray:
        lon, lat = _to_lonlat().transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    out: AreaGeometry = shapely.transform(geom, project)
    return out


def utm_points(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTM 51N (x, y) of arrays of lon, lat (for resampling onto a geographic grid)."""
    x, y = _to_utm().transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def lonlat_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:4326 (lon, lat) of arrays of UTM 51N x, y."""
    lon, lat = _to_lonlat().transform(x, y)
    return np.asarray(lon), np.asarray(lat)
