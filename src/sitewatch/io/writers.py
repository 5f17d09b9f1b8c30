"""Raster writers that never leave a half-written file behind.

Every output is written under a temporary name in its destination folder and
renamed into place only when the whole job succeeded (``os.replace`` is
atomic on one file system).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from ..errors import OutputError
from .raster import Grid

NOT_JUDGED = 255


def check_output_path(path: str | Path, option: str) -> Path:
    """Validate an output path before any work starts."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise OutputError(f"{option}: folder {parent} does not exist; create it first")
    if p.is_dir():
        raise OutputError(f"{option}: {p} is a folder; give a file name")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{option}: folder {parent} is not writable; choose another place")
    return p


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once, at import: os.umask can only be read by setting it, which is not thread-safe.
_FILE_MODE = 0o666 & ~_umask()


def temp_sibling(path: Path) -> Path:
    """A fresh temporary name beside ``path``, keeping its extension for GDAL."""
    fd, name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".part{path.suffix}", dir=path.parent
    )
    try:
        # mkstemp makes the file private (0600); outputs get the usual permissions instead
        os.fchmod(fd, _FILE_MODE)
    finally:
        os.close(fd)
    return Path(name)


class Commit:
    """Temporary files to rename into place together, or to remove on failure."""

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []

    def reserve(self, final: Path) -> Path:
        tmp = temp_sibling(final)
        self._pending.append((tmp, final))
        return tmp

    def commit(self) -> None:
        for tmp, final in self._pending:
            os.replace(tmp, final)
            aux = tmp.with_name(tmp.name + ".aux.xml")  # GDAL's sidecar for PNG georeferencing
            if aux.exists():
                os.replace(aux, final.with_name(final.name + ".aux.xml"))
        self._pending.clear()

    def abort(self) -> None:
        for tmp, _ in self._pending:
            for p in (tmp, tmp.with_name(tmp.name + ".aux.xml")):
                p.unlink(missing_ok=True)
        self._pending.clear()


@contextmanager
def committed() -> Iterator[Commit]:
    """Context in which reserved outputs appear only if the block succeeds."""
    c = Commit()
    try:
        yield c
    except BaseException:
        c.abort()
        raise
    c.commit()


def _final_name(path: Path) -> str:
    """The name the user gave, also for a temporary sibling (``.NAME.XXXXXX.part.EXT``)."""
    name = path.name
    if name.startswith(".") and ".part" in name:
        return name[1:].rsplit(".part", 1)[0].rsplit(".", 1)[0]
    return name


def _driver_for(path: Path) -> str:
    ext = path.suffix.lower()
    if ext in (".tif", ".tiff"):
        return "GTiff"
    if ext == ".png":
        return "PNG"
    raise OutputError(f"--out: {_final_name(path)} should end in .tif or .png")


class TileWriter:
    """Writes a raster tile by tile.

    GeoTIFF outputs are tiled and DEFLATE-compressed and written window by
    window; PNG cannot be written in pieces, so it is assembled in memory.
    """

    def __init__(
        self,
        path: Path,
        grid: Grid,
        count: int,
        dtype: str,
        nodata: float | None,
        descriptions: tuple[str, ...] = (),
    ) -> None:
        self.driver = _driver_for(path)
        self.path = path
        self.grid = grid
        self.count = count
        self.dtype = dtype
        self.nodata = nodata
        self.descriptions = descriptions
        self._memory: np.ndarray | None = None
        self._ds: rasterio.io.DatasetWriter | None = None
        if self.driver == "PNG":
            if dtype not in ("uint8", "uint16"):
                raise OutputError(f"{path.name}: PNG holds only 8/16-bit integers; write a .tif")
            self._memory = np.zeros((count, grid.height, grid.width), dtype)
        else:
            profile = dict(
                driver="GTiff", width=grid.width, height=grid.height, count=count, dtype=dtype,
                nodata=nodata, tiled=True, blockxsize=512, blockysize=512, compress="deflate",
                predictor=2 if dtype != "float32" else 3, BIGTIFF="IF_SAFER",
            )  # fmt: skip
            if grid.crs is not None:
                profile.update(crs=grid.crs, transform=grid.transform)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                self._ds = rasterio.open(path, "w", **profile)
            for i, d in enumerate(descriptions, start=1):
                self._ds.set_band_description(i, d)

    def write(self, window: Window, data: np.ndarray) -> None:
        """Write ``data`` (count, h, w) at ``window``."""
        if self._memory is not None:
            r, c = int(window.row_off), int(window.col_off)
            self._memory[:, r : r + data.shape[1], c : c + data.shape[2]] = data
        else:
            assert self._ds is not None
            self._ds.write(data, window=window)

    def close(self) -> None:
        if self._memory is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                profile = dict(driver="PNG", width=self.grid.width, height=self.grid.height,
                               count=self.count, dtype=self.dtype)  # fmt: skip
                if self.grid.crs is not None:
                    profile.update(crs=self.grid.crs, transform=self.grid.transform)
                if self.nodata is not None:
                    profile["nodata"] = self.nodata  # e.g. 255 = not judged, as in a GeoTIFF
                with rasterio.open(self.path, "w", **profile) as ds:
                    ds.write(self._memory)
            self._memory = None
        if self._ds is not None:
            self._ds.close()
            self._ds = None


def write_geotiff(
    path: Path,
    data: np.ndarray,
    grid: Grid,
    band_names: tuple[str, ...] = (),
    nodata: float | None = None,
) -> None:
    """Write a small in-memory (bands, h, w) array as a tiled GeoTIFF, atomically."""
    if data.ndim != 3 or data.shape[1:] != grid.shape:
        # GDAL would silently resample a mismatched array onto the grid
        raise ValueError(f"data of shape {data.shape} does not fit a {grid.shape} grid")
    with committed() as commit:
        w = TileWriter(
            commit.reserve(Path(path)), grid, data.shape[0], str(data.dtype), nodata, band_names
        )
        try:
            w.write(Window(0, 0, grid.width, grid.height), data)
        finally:
            w.close()


def write_text_atomic(path: Path, text: str) -> None:
    """Write a small text file so that readers never see half of it."""
    with committed() as commit:
        commit.reserve(Path(path)).write_text(text)
