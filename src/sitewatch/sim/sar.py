"""Render SAR acquisitions of a scenario: backscatter of the layout, then speckle.

The radar sees the same ground as the optical renderer (the same land cover
fields, the same structures standing on the date) on the same UTM grid, in
two polarisations, ``vv`` and ``vh``, as linear power (sigma0), float32.

The backscatter model is a few typical C-band values per surface:

* smooth surfaces (sea, concrete aprons, asphalt) reflect away from the
  sensor and are dark, the sea brighter with wind;
* bare ground is medium, a little brighter when wet;
* vegetation adds volume scattering, which is what ``vh`` sees, growing with
  the season's greenness; forest more than grass;
* standing structures are bright: their roofs and metal, plus the
  double-bounce (wall-ground dihedral) along the side that faces the sensor,
  strong in ``vv`` and weak in ``vh``; behind them lies radar shadow, where
  only the noise floor is left.

The sensor looks east (right-looking, ascending pass), so shadows fall east
of tall structures; layover and the slant-range geometry are not modelled.
Speckle is multiplicative gamma noise with shape ``enl`` and unit mean,
independent per pixel and per polarisation, so a homogeneous area has
exactly the requested equivalent number of looks.  Everything random comes
from ``numpy.random.Generator`` streams derived from the scenario's seed and
the date, so the same scenario gives the same images bit for bit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine

from ..errors import InputError
from .layout import Layout, Structure
from .render import (
    _accumulate,
    _convex_coverage,
    _grid,
    _landcover,
    _pad_px,
    _paint,
    _segment_coverage,
    fractal_noise,
    greenness,
)
from .scenarios import Scenario

__all__ = [
    "DEFAULT_ENL",
    "DOUBLE_BOUNCE_DB",
    "INCIDENCE_DEG",
    "NOISE_FLOOR_DB",
    "SAR_BANDS",
    "SAR_BACKSCATTER_DB",
    "SARScene",
    "SARWeather",
    "render_sar_scene",
    "sar_backscatter",
    "sar_sigma0",
    "sar_weather",
    "speckle",
]

SAR_BANDS = ("vv", "vh")
#: Looks of a Sentinel-1 IW GRD product, the default.
DEFAULT_ENL = 4.4
#: Incidence angle: radar shadow behind a structure is ``height * tan(incidence)`` long.
INCIDENCE_DEG = 38.0
#: Equivalent noise sigma0 of the sensor (both polarisations), dB.
NOISE_FLOOR_DB = -24.0
#: Width of the double-bounce line along a structure's near-range side, pixels.
DOUBLE_BOUNCE_PX = 1.5

#: Typical sigma0 (vv, vh) in dB per surface or material.
SAR_BACKSCATTER_DB: dict[str, tuple[float, float]] = {
    "water": (-20.0, -28.0),
    "bare_soil": (-12.0, -20.0),
    "vegetation": (-10.0, -16.0),
    "grass_dormant": (-11.0, -18.0),
    "forest": (-7.5, -12.5),
    "forest_dormant": (-8.0, -13.5),
    # smooth ground works: specular, dark
    "concrete": (-17.0, -25.0),
    "asphalt": (-18.0, -26.0),
    "gravel": (-12.5, -20.5),
    "disturbed": (-8.0, -15.0),  # debris and dug earth: rough
    "rail": (-6.0, -15.0),  # metal lines on ballast
    # standing structures: roof, walls and layover over the footprint (the dihedral
    # along the near-range side is added apart)
    "roof": (-2.0, -10.0),
    "dark_roof": (-2.0, -10.0),
    "roof_blue": (-1.0, -9.0),
    "steel": (3.0, -6.0),
    "steel_roof": (2.0, -7.0),
    "tank": (0.0, -8.0),
    "crane": (2.0, -6.0),
    "vehicle_white": (2.0, -8.0),
    "vehicle_green": (2.0, -8.0),
}
#: Dihedral return added along the near-range side of standing structures (vv, vh), dB.
DOUBLE_BOUNCE_DB = (12.0, 0.0)


@dataclass(frozen=True)
class SARWeather:
    """What makes one date's backscatter differ besides the layout.

    Attributes
    ----------
    wind
        Factor on the sea's backscatter (rougher sea, brighter).
    moisture
        ``(h, w)`` factor on bare ground (wet soil scatters more), near 1.
    green
        ``(h, w)`` vegetation greenness 0..1 (volume scattering grows with it).
    """

    wind: float
    moisture: np.ndarray
    green: np.ndarray


@dataclass(frozen=True)
class SARScene:
    """One rendered SAR acquisition.

    Attributes
    ----------
    data
        ``(2, h, w)`` float32 linear intensity (sigma0 power), ``vv`` then ``vh``.
    transform, crs
        The site's UTM grid (as the optical scenes).
    enl
        Equivalent number of looks of the speckle.
    date
        Acquisition day.
    bands
        ``("vv", "vh")``.
    """

    data: np.ndarray
    transform: Affine
    crs: str
    enl: float
    date: dt.date
    bands: tuple[str, ...] = SAR_BANDS


def _power(db: Sequence[float]) -> np.ndarray:
    return np.power(10.0, np.asarray(db, np.float32) / 10.0).astype(np.float32)


def _sigma(name: str) -> np.ndarray:
    """(vv, vh) linear sigma0 of a surface or material."""
    return _power(SAR_BACKSCATTER_DB[name])


def _col(name: str) -> np.ndarray:
    return _sigma(name)[:, None, None]


def sar_backscatter(
    layout: Layout,
    structures: Sequence[Structure],
    landcover: Mapping[str, np.ndarray],
    weather: SARWeather,
) -> np.ndarray:
    """Noise-free sigma0 ``(2, h, w)`` (vv, vh; linear power, float32) of one date.

    Parameters
    ----------
    layout
        Grid, roads and coast.
    structures
        What stands on the date (``Scenario.structures_on``), in drawing order.
    landcover
        ``veg``, ``forest`` (0..1 shares), ``soil`` (brightness near 1) and
        ``sea`` (0..1) fields on the layout's ``(h, w)`` grid.
    weather
        The date's sea wind, soil moisture and greenness.
    """
    g = _grid(layout, 0)
    shape = g.shape
    for key in ("veg", "forest", "soil", "sea"):
        if landcover[key].shape != shape:
            raise InputError(
                f"landcover[{key!r}]: shape {landcover[key].shape}, the grid is {shape}; "
                "give the fields on the layout's grid"
            )
    green = weather.green[None]
    veg, forest = landcover["veg"][None], landcover["forest"][None]
    grass = _col("vegetation") * green + _col("grass_dormant") * (1 - green)
    wood = _col("forest") * green + _col("forest_dormant") * (1 - green)
    soil = _col("bare_soil") * landcover["soil"][None] * weather.moisture[None]
    img = soil * (1 - veg) + (grass * (1 - forest) + wood * forest) * veg
    sea = landcover["sea"][None]
    img = img * (1 - sea) + _col("water") * np.float32(weather.wind) * sea
    img = img.astype(np.float32)

    def draw_roads(rails: bool) -> None:
        for road in layout.roads:
            if (road.material == "rail") == rails:
                for a, b in zip(road.points[:-1], road.points[1:]):
                    _paint(img, _segment_coverage(g, a, b, road.width_m), _sigma(road.material))

    flat = [s for s in structures if s.height_m <= 0]
    tall = [s for s in structures if s.height_m > 0]
    draw_roads(rails=False)
    for s in flat:
        _paint(img, _convex_coverage(g, np.asarray(s.vertices)), _sigma(s.material))
    draw_roads(rails=True)
    shadow = np.zeros(shape, np.float32)
    standing = np.zeros(shape, np.float32)
    dihedral = np.zeros(shape, np.float32)
    step = DOUBLE_BOUNCE_PX * g.px
    for s in tall:
        v = np.asarray(s.vertices, np.float64)
        cov = _convex_coverage(g, v)
        _paint(img, cov, _sigma(s.material))
        _accumulate(standing, cov)
        # the near-range (west) strip of the footprint: it less itself moved away
        here, away = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
        _accumulate(here, cov)
        _accumulate(away, _convex_coverage(g, v + [step, 0.0]))
        np.maximum(dihedral, here - away, out=dihedral)
        length = s.height_m * math.tan(math.radians(INCIDENCE_DEG))
        _accumulate(shadow, _convex_coverage(g, _hull(v, length)))
    shade = shadow * (1 - standing)
    img *= 1 - shade[None]
    img += _power(DOUBLE_BOUNCE_DB)[:, None, None] * dihedral[None]
    img += np.float32(10.0 ** (NOISE_FLOOR_DB / 10.0))
    return img.astype(np.float32)


def _hull(v: np.ndarray, length: float) -> np.ndarray:
    """Footprint swept ``length`` metres east (away from the sensor): its radar shadow."""
    pts = np.vstack([v, v + [length, 0.0]])
    return np.asarray(shapely.get_coordinates(shapely.MultiPoint(pts).convex_hull))


def speckle(sigma0: np.ndarray, enl: float, rng: np.random.Generator) -> np.ndarray:
    """``sigma0`` times unit-mean gamma speckle of shape ``enl`` (float32).

    A homogeneous area of the result has mean ``sigma0`` and an equivalent
    number of looks ``enl`` (``mean^2 / variance``).
    """
    if not (math.isfinite(enl) and enl > 0):
        raise InputError(f"enl={enl!r} must be > 0 (e.g. {DEFAULT_ENL})")
    s = np.asarray(sigma0, np.float32)
    noise = rng.standard_gamma(enl, size=s.shape, dtype=np.float32) / np.float32(enl)
    return (s * noise).astype(np.float32)


def _rng(seed: int, date: dt.date, stream: int) -> np.random.Generator:
    # one stream per date, so SAR dates need not be the optical ones
    return np.random.default_rng([seed, 50, date.toordinal(), stream])


def sar_weather(scenario: Scenario, date: dt.date, lag_days: np.ndarray) -> SARWeather:
    """The date's sea wind, a smooth soil-moisture field (about +-0.5 dB) and greenness.

    The moisture and season effects are kept small (a real radar sees more
    after rain and over crops) so that they test the false-alarm control
    without hiding the site's events.
    """
    layout = scenario.layout
    rng = _rng(scenario.seed, date, 0)
    shape = (layout.height, layout.width)
    wet = fractal_noise(rng, shape, 2.8, 800 / layout.pixel_m)
    moisture = np.power(10.0, (0.25 * wet + float(rng.normal(0.0, 0.2))) / 10.0)
    wind = float(np.power(10.0, rng.uniform(-3.0, 4.0) / 10.0))
    return SARWeather(
        wind=wind, moisture=moisture.astype(np.float32), green=greenness(date, lag_days)
    )


def sar_sigma0(scenario: Scenario, date: dt.date) -> np.ndarray:
    """Noise-free sigma0 ``(2, h, w)`` of ``scenario`` on ``date`` (before speckle).

    Uses the optical renderer's land cover (cropped from its padded grid),
    so fields, forest and shore lie where the optical scenes show them.
    """
    layout = scenario.layout
    pad = _pad_px(scenario)
    lc_padded = _landcover(scenario.seed, layout.width, layout.pixel_m, pad)
    crop = (slice(pad, pad + layout.height), slice(pad, pad + layout.width))
    landcover = {k: v[crop] for k, v in lc_padded.items()}
    weather = sar_weather(scenario, date, landcover["lag"])
    return sar_backscatter(layout, scenario.structures_on(date), landcover, weather)


def render_sar_scene(scenario: Scenario, date: dt.date, enl: float = DEFAULT_ENL) -> SARScene:
    """Render a SAR acquisition of ``scenario`` on ``date``: vv and vh with speckle.

    Parameters
    ----------
    scenario
        From :func:`sitewatch.sim.scenarios.build_scenario`.
    date
        Any day; the structures standing then are drawn (the optical dates
        are a natural choice, or a 6/12-day repeat cycle of their own).
    enl
        Equivalent number of looks of the speckle.

    Returns
    -------
    SARScene
        ``(2, h, w)`` float32 linear power on the site's UTM grid.
    """
    if not (math.isfinite(enl) and enl > 0):
        raise InputError(f"enl={enl!r} must be > 0 (e.g. {DEFAULT_ENL})")
    layout = scenario.layout
    data = speckle(sar_sigma0(scenario, date), enl, _rng(scenario.seed, date, 1))
    return SARScene(
        data=data, transform=layout.transform, crs=layout.crs, enl=float(enl), date=date
    )
