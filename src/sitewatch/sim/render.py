"""Render a scenario's acquisitions: ground, season, atmosphere, sensor.

Pure numpy (scipy for resampling, pyproj for the one geographic date). The
order follows the light: the ground as it stands on the date (land cover
with seasonal vegetation, roads, structures with their shadows, snow), a
sub-pixel misregistration, cloud shadows, a haze veil, clouds, the sensor's
per-band gain and offset and noise, the scene edge, and for one date a
resampling onto a lon/lat grid. Values are top-of-atmosphere reflectance x
10000 as uint16 (blue, green, red, nir), 0 = nodata.

Clouds, haze and land cover come from fractal (1/f^beta) noise whose scale is
set in metres, so a small test scene sees the same world through a smaller
window rather than a shrunken one.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import shapely
from affine import Affine
from scipy import ndimage as ndi

from ..models import AreaGeometry
from .layout import Layout, Structure, build_layout, lonlat_points, utm_points
from .pair import BANDS, COVER_SPECTRA
from .scenarios import Acquisition, Scenario

__all__ = [
    "BANDS",
    "CLEAR",
    "CLOUD",
    "NODATA",
    "SHADOW",
    "SPECTRA",
    "RenderedScene",
    "footprint_mask",
    "fractal_noise",
    "render_scene",
    "scene_masks",
]

# Cloud mask classes (the truth's ``clouds/<date>.tif``).
CLEAR, CLOUD, SHADOW, NODATA = 0, 1, 2, 255
# Opacity / shadow strength from which a pixel no longer shows the ground faithfully.
CLOUD_MIN_OPACITY = 0.1
SHADOW_MIN_STRENGTH = 0.15

# Top-of-atmosphere reflectance x 10000 (blue, green, red, nir).
SPECTRA: dict[str, tuple[float, float, float, float]] = {
    **{k: tuple(map(float, v)) for k, v in COVER_SPECTRA.items()},  # type: ignore[misc]
    "roof_blue": (1700.0, 1450.0, 900.0, 1400.0),
    "steel": (700.0, 750.0, 780.0, 900.0),
    "steel_roof": (2600.0, 2650.0, 2700.0, 2850.0),
    "tank": (2400.0, 2450.0, 2500.0, 2600.0),
    "asphalt": (650.0, 700.0, 750.0, 850.0),
    "gravel": (1500.0, 1550.0, 1650.0, 1900.0),
    "rail": (700.0, 720.0, 750.0, 900.0),
    "disturbed": (1300.0, 1450.0, 1650.0, 2100.0),
    "crane": (900.0, 1500.0, 2300.0, 2800.0),
    "vehicle_white": (2600.0, 2600.0, 2650.0, 2800.0),
    "vehicle_green": (600.0, 800.0, 750.0, 1500.0),
    "grass_dormant": (800.0, 950.0, 1150.0, 1900.0),
    "forest": (300.0, 550.0, 350.0, 2800.0),
    "forest_dormant": (550.0, 650.0, 650.0, 1500.0),
    "snow": (8500.0, 8400.0, 8200.0, 6800.0),
    "cloud": (6500.0, 6400.0, 6300.0, 5800.0),
}
# Path radiance of a full haze veil per band: scattering falls with wavelength.
HAZE_RADIANCE = np.array([900.0, 650.0, 450.0, 200.0], np.float32)
# Share of the direct light a shadow removes, per band (blue keeps more: skylight).
SHADOW_DEPTH = np.array([0.45, 0.55, 0.6, 0.65], np.float32)
# Gaussian point spread of the optics, in pixels (an MTF of ~0.35 at Nyquist, as
# Sentinel-2 specifies), and the margin that keeps the Fourier shift's wrap-around away.
MTF_SIGMA_PX = 0.45
SHIFT_EXTENSION_PX = 16
# Sensor noise standard deviation at noise factor 1 (read noise part), per band.
NOISE_SIGMA = np.array([18.0, 18.0, 22.0, 28.0], np.float32)


class RenderedScene(NamedTuple):
    """One rendered acquisition (unpacks as ``data, transform, crs, cloud_mask``).

    ``cloud_mask`` holds :data:`CLEAR`, :data:`CLOUD`, :data:`SHADOW` or
    :data:`NODATA` per pixel, on the same grid as ``data``.
    """

    data: np.ndarray
    transform: Affine
    crs: str
    cloud_mask: np.ndarray


# --- noise fields -------------------------------------------------------------------------


def fractal_noise(
    rng: np.random.Generator, shape: tuple[int, int], beta: float, outer_px: float
) -> np.ndarray:
    """Zero-mean, unit-variance periodic noise with a 1/f^beta power spectrum.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the white noise.
    shape : (int, int)
        Field size in pixels.
    beta : float
        Spectral slope: 2-3 gives terrain- and cloud-like fields.
    outer_px : float
        Largest feature size in pixels: the spectrum flattens below 1/outer_px,
        so the field's scale is physical, not the scene's.
    """
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f0 = 1.0 / max(outer_px, 2.0)
    amp = (fy**2 + fx**2 + f0**2) ** (-beta / 4.0)
    amp[0, 0] = 0.0
    spec = (rng.standard_normal(amp.shape) + 1j * rng.standard_normal(amp.shape)) * amp
    field = np.fft.irfft2(spec, s=shape)
    field -= field.mean()
    return (field / (field.std() + 1e-12)).astype(np.float32)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


# --- rasterising vectors ------------------------------------------------------------------


class _Grid(NamedTuple):
    """Pixel-centre coordinates of a (possibly padded) scene grid."""

    xs: np.ndarray  # (W,) easting of column centres
    ys: np.ndarray  # (H,) northing of row centres
    px: float

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.ys), len(self.xs)


def _grid(layout: Layout, pad: int) -> _Grid:
    t = layout.transform
    px = layout.pixel_m
    xs = t.c + (np.arange(layout.width + 2 * pad) - pad + 0.5) * px
    ys = t.f - (np.arange(layout.height + 2 * pad) - pad + 0.5) * px
    return _Grid(xs, ys, px)


def _window(g: _Grid, x0: float, y0: float, x1: float, y1: float) -> tuple[slice, slice] | None:
    """Rows and columns whose centres may be within a pixel of the box."""
    c0 = max(int(math.floor((x0 - g.xs[0]) / g.px)) - 1, 0)
    c1 = min(int(math.ceil((x1 - g.xs[0]) / g.px)) + 2, len(g.xs))
    r0 = max(int(math.floor((g.ys[0] - y1) / g.px)) - 1, 0)
    r1 = min(int(math.ceil((g.ys[0] - y0) / g.px)) + 2, len(g.ys))
    if c0 >= c1 or r0 >= r1:
        return None
    return slice(r0, r1), slice(c0, c1)


def _convex_coverage(
    g: _Grid, vertices: np.ndarray
) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """Anti-aliased coverage of a convex polygon: its signed distance, one pixel soft."""
    v = np.asarray(vertices, np.float64)
    if len(v) > 1 and np.array_equal(v[0], v[-1]):  # a closed ring (not allclose: UTM
        v = v[:-1]  # coordinates are ~1e6, its relative tolerance would be metres)
    x, y = v[:, 0], v[:, 1]
    if np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) < 0:  # make it counter-clockwise
        v = v[::-1]
    win = _window(g, v[:, 0].min(), v[:, 1].min(), v[:, 0].max(), v[:, 1].max())
    if win is None:
        return None
    xx = g.xs[win[1]][None, :]
    yy = g.ys[win[0]][:, None]
    e = np.roll(v, -1, axis=0) - v
    length = np.hypot(e[:, 0], e[:, 1])
    keep = length > 0
    v, e, length = v[keep], e[keep], length[keep]
    nx, ny = e[:, 1] / length, -e[:, 0] / length  # outward normals of a CCW ring
    sd = np.full((yy.shape[0], xx.shape[1]), -np.inf)
    for k in range(len(v)):
        sd = np.maximum(sd, (xx - v[k, 0]) * nx[k] + (yy - v[k, 1]) * ny[k])
    return win, np.clip(0.5 - sd / g.px, 0.0, 1.0)


def _segment_coverage(
    g: _Grid, a: tuple[float, float], b: tuple[float, float], width: float
) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """Anti-aliased coverage of a straight road or rail of ``width`` metres."""
    hw = width / 2
    win = _window(
        g, min(a[0], b[0]) - hw, min(a[1], b[1]) - hw, max(a[0], b[0]) + hw, max(a[1], b[1]) + hw
    )
    if win is None:
        return None
    xx = g.xs[win[1]][None, :] - a[0]
    yy = g.ys[win[0]][:, None] - a[1]
    dx, dy = b[0] - a[0], b[1] - a[1]
    t = np.clip((xx * dx + yy * dy) / max(dx * dx + dy * dy, 1e-12), 0.0, 1.0)
    dist = np.hypot(xx - t * dx, yy - t * dy)
    return win, np.clip(hw / g.px - dist / g.px + 0.5, 0.0, 1.0)


def _paint(
    img: np.ndarray, cov: tuple[tuple[slice, slice], np.ndarray] | None, spectrum: np.ndarray
) -> None:
    if cov is None:
        return
    (rs, cs), a = cov
    a32 = a.astype(np.float32)[None]
    img[:, rs, cs] = img[:, rs, cs] * (1 - a32) + spectrum[:, None, None] * a32


def _accumulate(target: np.ndarray, cov: tuple[tuple[slice, slice], np.ndarray] | None) -> None:
    if cov is not None:
        (rs, cs), a = cov
        target[rs, cs] = np.maximum(target[rs, cs], a)


def footprint_mask(layout: Layout, geometry: AreaGeometry) -> np.ndarray:
    """Pixels of the scene grid whose centres fall in ``geometry`` (at least one pixel)."""
    g = _grid(layout, 0)
    mask = np.zeros(g.shape, bool)
    win = _window(g, *geometry.bounds)
    if win is not None:
        xx, yy = np.meshgrid(g.xs[win[1]], g.ys[win[0]])
        mask[win] = shapely.contains_xy(geometry, xx, yy)
    if not mask.any():
        c = geometry.centroid
        col = int(np.clip((c.x - g.xs[0]) / g.px + 0.5, 0, g.shape[1] - 1))
        row = int(np.clip((g.ys[0] - c.y) / g.px + 0.5, 0, g.shape[0] - 1))
        mask[row, col] = True
    return mask


# --- the ground ---------------------------------------------------------------------------


def _pad_px(scenario: Scenario) -> int:
    return int(math.ceil(scenario.nuisance.shift_px[1])) + 4


@lru_cache(maxsize=4)
def _landcover(seed: int, size: int, pixel_m: float, pad: int) -> dict[str, np.ndarray]:
    """The unchanging ground: vegetation, forest, soil brightness, grain, sea (padded grid)."""
    layout = build_layout(size, pixel_m)
    g = _grid(layout, pad)
    shape = g.shape
    rng = _rng(seed, 10)
    px = g.px
    veg = _smoothstep((fractal_noise(rng, shape, 3.0, 500 / px) + 0.45) / 0.7)
    forest = _smoothstep((fractal_noise(rng, shape, 3.0, 400 / px) - 0.2) / 0.6)
    soil = 1.0 + 0.08 * fractal_noise(rng, shape, 2.5, 200 / px)
    grain = 1.0 + 0.035 * ndi.gaussian_filter(rng.standard_normal(shape), 0.7) / 0.33
    # The facility grounds are cleared: little vegetation in and around the zones.
    developed = np.zeros(shape, np.float32)
    for zone in layout.zones.values():
        c = _convex_coverage(
            g, np.asarray(zone.buffer(25 * layout.scale, join_style=2).exterior.coords)
        )
        _accumulate(developed, c)
    developed = ndi.gaussian_filter(developed, 8 * layout.scale * 3 / px)
    veg = veg * (1 - 0.85 * developed)
    cx, cy = layout.centre
    u = (g.xs[None, :] - cx) / layout.scale
    v = (g.ys[:, None] - cy) / layout.scale
    shore = layout.coast_x + 25 * np.sin(v / 180.0) + 12 * np.sin(v / 47.0 + 1.0)
    sea = np.clip((shore - u) * layout.scale / px + 0.5, 0.0, 1.0)
    fields = {
        "veg": veg.astype(np.float32),
        "forest": forest.astype(np.float32),
        "soil": soil.astype(np.float32),
        "grain": grain.astype(np.float32),
        "sea": sea.astype(np.float32),
        "lag": (12.0 * fractal_noise(rng, shape, 2.5, 300 / px)).astype(np.float32),
    }
    for a in fields.values():
        a.setflags(write=False)  # shared between calls through the cache
    return fields


def greenness(date: dt.date, lag_days: np.ndarray | float = 0.0) -> np.ndarray:
    """Vegetation phenology 0..1: leaf-out in late April, peak in July, dormant Dec-Mar.

    ``lag_days`` shifts the calendar per pixel (later leaf-out on cold slopes, crops
    harvested on different days), so the season does not change every field at once.
    """
    doy = date.timetuple().tm_yday
    phase = 2 * np.pi * (doy - 210 - np.asarray(lag_days, np.float32)) / 365.0
    return np.clip(0.45 + 0.65 * np.cos(phase), 0.0, 1.0).astype(np.float32)


def _spec(name: str) -> np.ndarray:
    return np.asarray(SPECTRA[name], np.float32)


def _ground(scenario: Scenario, index: int, pad: int) -> np.ndarray:
    """Surface reflectance (4, H, W) of the padded grid on acquisition ``index``."""
    layout = scenario.layout
    acq = scenario.acquisitions[index]
    lc = _landcover(scenario.seed, layout.width, layout.pixel_m, pad)
    g = _grid(layout, pad)
    green = greenness(acq.date, lc["lag"])[None]

    def col(name: str) -> np.ndarray:
        return _spec(name)[:, None, None]

    grass = col("vegetation") * green + col("grass_dormant") * (1 - green)
    forest = col("forest") * green + col("forest_dormant") * (1 - green)
    veg_spec = grass * (1 - lc["forest"]) + forest * lc["forest"]
    # Soil moisture after rain darkens bare ground, patchily and differently each date.
    date_rng = _rng(scenario.seed, 20, index)
    wet = date_rng.uniform(0.9, 1.05) + 0.04 * fractal_noise(date_rng, g.shape, 2.8, 800 / g.px)
    soil = col("bare_soil") * lc["soil"] * wet
    img = soil * (1 - lc["veg"]) + veg_spec * lc["veg"]
    # The sea's brightness changes with glint and turbidity from date to date.
    water = _spec("water")[:, None, None] * np.float32(date_rng.uniform(0.8, 1.3))
    img = img * (1 - lc["sea"]) + water * lc["sea"]

    built = np.zeros(g.shape, np.float32)
    tall = np.zeros(g.shape, np.float32)
    shadow = np.zeros(g.shape, np.float32)

    def draw_roads(rails: bool) -> None:
        for road in layout.roads:
            if (road.material == "rail") != rails:
                continue
            for a, b in zip(road.points[:-1], road.points[1:]):
                cov = _segment_coverage(g, a, b, road.width_m)
                _paint(img, cov, _spec(road.material))
                _accumulate(built, cov)

    def draw(structures: list[Structure]) -> None:
        for s in structures:
            cov = _convex_coverage(g, np.asarray(s.vertices))
            _paint(img, cov, _spec(s.material))
            _accumulate(built, cov)
            if s.height_m > 0:
                _accumulate(tall, cov)
                _accumulate(shadow, _convex_coverage(g, _shadow_hull(s, acq)))

    # Roads, then flat ground works (aprons, scars, resurfacing), then the rails laid
    # on them, then everything standing up.
    structures = scenario.structures_on(acq.date)
    draw_roads(rails=False)
    draw([s for s in structures if s.height_m == 0])
    draw_roads(rails=True)
    draw([s for s in structures if s.height_m > 0])
    img *= lc["grain"]
    if acq.snow > 0:
        snow_rng = _rng(scenario.seed, 21, index)
        n = fractal_noise(snow_rng, g.shape, 2.6, 300 / g.px)
        thr = np.quantile(n, 1 - acq.snow)
        cover = _smoothstep((n - thr) / 0.4) * (1 - built) * (1 - lc["sea"])
        img = img * (1 - cover) + _spec("snow")[:, None, None] * cover
    # Shadows fall on the ground and flat structures, not on the tall ones casting them.
    shade = shadow * (1 - tall)
    img *= 1 - SHADOW_DEPTH[:, None, None] * shade
    return img.astype(np.float32)


def _shadow_hull(s: Structure, acq: Acquisition) -> np.ndarray:
    length = s.height_m / math.tan(math.radians(max(acq.sun_elevation, 5.0)))
    az = math.radians(acq.sun_azimuth)
    dx, dy = -math.sin(az) * length, -math.cos(az) * length  # away from the sun
    v = np.asarray(s.vertices)
    pts = np.vstack([v, v + [dx, dy]])
    hull = shapely.MultiPoint(pts).convex_hull
    return np.asarray(shapely.get_coordinates(hull))


# --- the atmosphere ---------------------------------------------------------------------------


class _Sky(NamedTuple):
    opacity: np.ndarray  # cloud opacity 0..1
    shadow: np.ndarray  # cloud shadow strength 0..1
    haze: np.ndarray  # haze veil 0..1
    valid: np.ndarray  # inside the scene's coverage


def _patch(g: _Grid, x: float, y: float, r: float, texture: np.ndarray) -> np.ndarray:
    d = np.hypot(g.xs[None, :] - x, g.ys[:, None] - y) / max(r, 1e-6)
    return _smoothstep((1.0 - d + 0.12 * texture) / 0.25)


def _sky(scenario: Scenario, index: int) -> _Sky:
    """Clouds, their shadows, haze and coverage on the scene grid of acquisition ``index``."""
    layout = scenario.layout
    acq = scenario.acquisitions[index]
    g = _grid(layout, 0)
    shape = g.shape
    rng = _rng(scenario.seed, 30, index)
    opacity = np.zeros(shape, np.float32)
    shadow = np.zeros(shape, np.float32)
    length = acq.cloud_height_m / math.tan(math.radians(max(acq.sun_elevation, 5.0)))
    az = math.radians(acq.sun_azimuth)
    sx, sy = -math.sin(az) * length, -math.cos(az) * length  # shadow offset, metres
    # Cloud fields: a steep spectrum (few, billowy cells), lightly blurred so that
    # the threshold does not leave pixel-sized cloudlets; fine texture on the edges.
    n = ndi.gaussian_filter(fractal_noise(rng, shape, 3.4, 3000 / g.px), 1.5)
    n /= n.std() + 1e-12
    texture = fractal_noise(rng, shape, 2.4, 400 / g.px)
    if acq.cloud_cover > 0:
        field = n + 0.12 * texture
        # Half opacity at the threshold, so cloud_cover is the share of mostly-opaque
        # cloud; thin edges spread over ~0.6 sd of the field around it.
        thr = np.quantile(field, 1 - acq.cloud_cover)
        opacity = _smoothstep((field - thr) / 0.6 + 0.5)
        # The field is periodic, so rolling it is a shadow of clouds, some just off-scene.
        shift = (int(round(-sy / g.px)), int(round(sx / g.px)))
        shadow = np.roll(opacity, shift, axis=(0, 1))
    for x, y, r in acq.cloud_patches:
        opacity = np.maximum(opacity, _patch(g, x, y, r, texture))
        shadow = np.maximum(shadow, _patch(g, x + sx, y + sy, r, texture))
    shadow = shadow * (1 - opacity)
    haze = np.zeros(shape, np.float32)
    if acq.haze > 0:
        veil = fractal_noise(rng, shape, 3.5, 4000 / g.px)
        haze = acq.haze * (0.4 + 0.6 * (veil - veil.min()) / (np.ptp(veil) + 1e-6))
    valid = np.ones(shape, bool)
    if acq.coverage_edge is not None:
        normal, offset = acq.coverage_edge
        cx, cy = layout.centre
        a = math.radians(normal)
        proj = (g.xs[None, :] - cx) * math.cos(a) + (g.ys[:, None] - cy) * math.sin(a)
        valid = proj < offset
    return _Sky(opacity, shadow.astype(np.float32), haze.astype(np.float32), valid)


def _classes(sky: _Sky) -> np.ndarray:
    mask = np.full(sky.opacity.shape, CLEAR, np.uint8)
    mask[sky.shadow >= SHADOW_MIN_STRENGTH] = SHADOW
    mask[sky.opacity >= CLOUD_MIN_OPACITY] = CLOUD
    mask[~sky.valid] = NODATA
    return mask


def scene_masks(scenario: Scenario, index: int) -> np.ndarray:
    """Cloud mask classes of acquisition ``index`` on the site's UTM grid (uint8)."""
    return _classes(_sky(scenario, index))


# --- the whole scene --------------------------------------------------------------------------


def render_scene(scenario: Scenario, index: int) -> RenderedScene:
    """Render acquisition ``index`` of ``scenario``.

    Returns
    -------
    RenderedScene
        ``data`` (4, h, w) uint16 with 0 = nodata, its ``transform`` and ``crs``
        (the site's UTM zone, or EPSG:4326 for the scenario's geographic date), and
        ``cloud_mask`` (uint8 classes) on the same grid.
    """
    layout = scenario.layout
    acq = scenario.acquisitions[index]
    pad = _pad_px(scenario)
    ground = _ground(scenario, index, pad)
    img = _optics(ground, acq.shift_px)[:, pad : pad + layout.height, pad : pad + layout.width]
    sky = _sky(scenario, index)
    img = img * (1 - SHADOW_DEPTH[:, None, None] * sky.shadow)
    img = img * (1 - 0.25 * sky.haze) + HAZE_RADIANCE[:, None, None] * sky.haze
    rng = _rng(scenario.seed, 40, index)
    cloud = _spec("cloud")[:, None, None] * (
        0.85 + 0.1 * fractal_noise(rng, sky.opacity.shape, 2.2, 600 / layout.pixel_m)
    )
    img = img * (1 - sky.opacity) + cloud * sky.opacity
    gain = np.asarray(acq.gain, np.float32)[:, None, None]
    offset = np.asarray(acq.offset, np.float32)[:, None, None]
    img = img * gain + offset
    # Read noise plus photon noise (grows with the signal).
    sigma = acq.noise * (NOISE_SIGMA[:, None, None] + 0.6 * np.sqrt(np.maximum(img, 0.0)))
    img = img + sigma * rng.standard_normal(img.shape, dtype=np.float32)
    mask = _classes(sky)
    if acq.crs != layout.crs:
        return _to_geographic(img, sky.valid, mask, layout)
    data = np.clip(np.rint(img), 1, 65535).astype(np.uint16)
    data[:, ~sky.valid] = 0
    return RenderedScene(data, layout.transform, layout.crs, mask)


def _optics(ground: np.ndarray, shift_px: tuple[float, float]) -> np.ndarray:
    """The sensor's view of the ground: its blur (MTF) and the misregistration shift.

    Both are applied in the Fourier domain: a phase ramp moves every spatial
    frequency by exactly (dy, dx) pixels, so the shift is what a phase correlation
    measures (spline interpolation gets near-Nyquist phases wrong by ~0.1 px). A
    symmetric extension keeps the FFT's wrap-around from ringing into the scene.
    """
    ext = SHIFT_EXTENSION_PX
    padded = np.pad(ground, ((0, 0), (ext, ext), (ext, ext)), mode="symmetric")
    h, w = padded.shape[1:]
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    dy, dx = shift_px
    mtf = np.exp(-2.0 * (np.pi * MTF_SIGMA_PX) ** 2 * (fy**2 + fx**2))
    transfer = mtf * np.exp(-2j * np.pi * (fy * dy + fx * dx))
    out = np.fft.irfft2(np.fft.rfft2(padded) * transfer, s=(h, w))
    return out[:, ext:-ext, ext:-ext].astype(np.float32)


def _to_geographic(
    img: np.ndarray, valid: np.ndarray, mask: np.ndarray, layout: Layout
) -> RenderedScene:
    """Resample a scene onto a north-up lon/lat grid of about the same ground resolution."""
    t = layout.transform
    w, h = layout.width, layout.height
    edge = np.linspace(0, 1, 33)
    cols = np.concatenate([edge * w, np.full(33, w), edge[::-1] * w, np.zeros(33)])
    rows = np.concatenate([np.zeros(33), edge * h, np.full(33, h), edge[::-1] * h])
    lon, lat = lonlat_points(t.c + cols * t.a, t.f + rows * t.e)
    west, east, south, north = lon.min(), lon.max(), lat.min(), lat.max()
    mid = math.radians((south + north) / 2)
    # Square degrees pixels with the same ground area as the UTM ones (as gdalwarp picks).
    res = layout.pixel_m / 111_200.0 / math.sqrt(math.cos(mid))
    gw = int(math.ceil((east - west) / res))
    gh = int(math.ceil((north - south) / res))
    glon = west + (np.arange(gw) + 0.5) * res
    glat = north - (np.arange(gh) + 0.5) * res
    lon2, lat2 = np.meshgrid(glon, glat)
    x, y = utm_points(lon2.ravel(), lat2.ravel())
    c = ((x - t.c) / t.a - 0.5).reshape(gh, gw)
    r = ((y - t.f) / t.e - 0.5).reshape(gh, gw)
    coords = np.stack([r, c])
    bands = [ndi.map_coordinates(b, coords, order=1, mode="constant", cval=0.0) for b in img]
    ok = ndi.map_coordinates(valid.astype(np.float32), coords, order=1, cval=0.0) > 0.999
    data = np.clip(np.rint(np.stack(bands)), 1, 65535).astype(np.uint16)
    data[:, ~ok] = 0
    cls = ndi.map_coordinates(mask, coords, order=0, mode="constant", cval=NODATA)
    cls = cls.astype(np.uint8)
    cls[~ok] = NODATA
    transform = Affine(res, 0.0, west, 0.0, -res, north)
    return RenderedScene(data, transform, "EPSG:4326", cls)
