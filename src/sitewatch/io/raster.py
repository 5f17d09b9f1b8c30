"""Open images as band stacks: one multi-band file, or a folder of per-band files.

An :class:`ImageStack` only describes where each band lives; pixels are read
later, window by window, by :class:`sitewatch.io.reader.StackReader`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

from ..errors import BandMismatchError, InputError, MissingFileError, RasterReadError
from .bands import ATMOSPHERIC, SENTINEL2, band_id_from_filename, names_for_layout

RASTER_SUFFIXES = {".tif", ".tiff", ".png", ".bmp", ".jp2", ".jpg", ".jpeg", ".img", ".vrt"}
SUPPORTED_DTYPES = {"uint8", "uint16", "int16", "uint32", "int32", "float32", "float64"}


@dataclass(frozen=True)
class Grid:
    """A raster grid: size, affine transform and CRS (None in pixel space)."""

    width: int
    height: int
    transform: Affine
    crs: CRS | None

    @property
    def georeferenced(self) -> bool:
        return self.crs is not None

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the grid's CRS."""
        x0, y0 = self.transform @ (0, 0)
        x1, y1 = self.transform @ (self.width, self.height)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)

    @property
    def pixel_area(self) -> float:
        return abs(self.transform.a * self.transform.e - self.transform.b * self.transform.d)

    def same_as(self, other: Grid, tol: float = 1e-9) -> bool:
        """True when both grids put the same pixels at the same place."""
        if self.shape != other.shape or (self.crs is None) != (other.crs is None):
            return False
        if self.crs is not None and other.crs is not None and self.crs != other.crs:
            return False
        scale = max(abs(self.transform.a), abs(self.transform.e), 1e-12)
        pairs = zip(self.transform, other.transform)
        return all(abs(a - b) <= tol * max(scale, 1.0) for a, b in pairs)


@dataclass(frozen=True)
class BandRef:
    """One band: the file holding it, its 1-based index there, and its name."""

    path: Path
    index: int
    name: str
    nodata: float | None
    grid: Grid


@dataclass(frozen=True)
class ImageStack:
    """An image as an ordered set of bands, possibly spread over files and resolutions.

    ``grid`` is the finest grid among the bands; coarser bands are resampled onto it.
    ``named`` says whether band names come from metadata (so they can match
    another image's bands) or are positional placeholders (``band1``...).
    """

    source: Path
    bands: tuple[BandRef, ...]
    grid: Grid
    dtype: str
    named: bool

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.bands]

    @property
    def count(self) -> int:
        return len(self.bands)

    def select(self, names: list[str]) -> ImageStack:
        """Keep the named bands, in that order."""
        by_name = {b.name: b for b in self.bands}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise BandMismatchError(
                f"--bands: {', '.join(missing)} not found in {self.source} "
                f"(it has {', '.join(self.names)}); choose among those"
            )
        chosen = tuple(by_name[n] for n in names)
        grids = [b.grid for b in chosen]
        finest = min(grids, key=lambda g: g.pixel_area)
        return ImageStack(self.source, chosen, finest, self.dtype, self.named)


def _open(path: Path) -> rasterio.DatasetReader:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path)
    except RasterioIOError as exc:
        raise RasterReadError(
            f"{path}: not a readable raster ({_first_line(exc)}); give a GeoTIFF, PNG, "
            "BMP or a folder of per-band GeoTIFFs"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _grid_of(ds: rasterio.DatasetReader) -> Grid:
    crs = ds.crs if ds.crs else None
    transform = ds.transform if crs is not None else Affine.identity()
    return Grid(ds.width, ds.height, transform, crs)


def _check_dtype(path: Path, dtype: str) -> None:
    if dtype not in SUPPORTED_DTYPES:
        raise RasterReadError(
            f"{path}: pixel type {dtype} is not supported; convert it to one of "
            f"{', '.join(sorted(SUPPORTED_DTYPES))}"
        )


def _open_file(path: Path) -> ImageStack:
    with _open(path) as ds:
        _check_dtype(path, ds.dtypes[0])
        grid = _grid_of(ds)
        labels = list(ds.descriptions)
        if not any(labels):
            # PNG/JPEG carry RGB colour interpretation instead of descriptions
            ci = [c.name for c in ds.colorinterp]
            if set(ci) >= {"red", "green", "blue"}:
                labels = [c if c in ("red", "green", "blue") else None for c in ci]
        names = names_for_layout(labels)
        named = all(n is not None for n in names) and len(set(names)) == len(names)
        if not named:
            names = [f"band{i}" for i in range(1, ds.count + 1)]
        bands = tuple(
            BandRef(path, i + 1, str(n), ds.nodatavals[i], grid) for i, n in enumerate(names)
        )
        return ImageStack(path, bands, grid, ds.dtypes[0], named)


def _open_folder(path: Path) -> tuple[ImageStack, list[str]]:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in RASTER_SUFFIXES)
    if not files:
        raise InputError(
            f"{path}: folder holds no raster files; give a folder of per-band GeoTIFFs "
            "(e.g. ..._B02.tif, ..._B03.tif) or a single image file"
        )
    bands: dict[str, BandRef] = {}
    dtypes = set()
    for f in files:
        name = band_id_from_filename(f.name)
        if name is None:
            continue
        with _open(f) as ds:
            if ds.count != 1:
                raise BandMismatchError(
                    f"{f}: has {ds.count} bands; a band folder needs one band per file"
                )
            _check_dtype(f, ds.dtypes[0])
            dtypes.add(ds.dtypes[0])
            if name in bands:
                raise BandMismatchError(
                    f"{path}: two files hold band {name!r} ({bands[name].path.name}, {f.name}); "
                    "keep one"
                )
            bands[name] = BandRef(f, 1, name, ds.nodatavals[0], _grid_of(ds))
    if not bands:
        raise InputError(
            f"{path}: no file name names a band (expected e.g. ..._B02.tif or ..._red.tif)"
        )
    crss = {str(b.grid.crs) for b in bands.values()}
    if len(crss) > 1:
        raise BandMismatchError(
            f"{path}: band files are in different CRSs ({', '.join(sorted(crss))}); "
            "reproject them to one CRS first"
        )
    order = {n: i for i, n in enumerate(SENTINEL2.values())}
    ordered = sorted(bands.values(), key=lambda b: (order.get(b.name, 99), b.name))
    # Atmospheric bands stay available by name but are not part of the default stack.
    surface = [b for b in ordered if b.name not in ATMOSPHERIC] or ordered
    finest = min((b.grid for b in surface), key=lambda g: g.pixel_area)
    dtype = sorted(dtypes)[0] if len(dtypes) == 1 else "float32"
    return ImageStack(path, tuple(ordered), finest, dtype, True), [b.name for b in surface]


def open_image(path: str | Path, bands: list[str] | None = None) -> ImageStack:
    """Describe an image file or a folder of per-band files.

    Parameters
    ----------
    path
        A GeoTIFF/COG, a PNG/BMP/plain TIFF (pixel space), or a folder of
        single-band files whose names carry band ids (Sentinel-2 ``_B02``...).
    bands
        Common names of the bands to keep, in order; None keeps every band of
        a file, and the surface bands of a folder (coastal, water-vapour and
        cirrus bands are left out unless named).

    Raises
    ------
    MissingFileError, RasterReadError, InputError, BandMismatchError
    """
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"{p}: no such file or folder; check the path")
    if p.is_dir():
        stack, default = _open_folder(p)
        return stack.select(bands or default)
    stack = _open_file(p)
    if bands is None:
        return stack
    if not stack.named and not all(b.startswith("band") for b in bands):
        raise BandMismatchError(
            f"--bands: {p} carries no band names, so {', '.join(bands)} cannot be found; "
            "name bands by position (band1,band2,...) or omit --bands"
        )
    return stack.select(bands)
