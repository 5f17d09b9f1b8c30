"""Read windows of an :class:`ImageStack` onto a target grid.

Bands already on the target grid are read directly; any other band (another
CRS, pixel size or origin) goes through a GDAL warped VRT, so only the source
pixels under the requested window are decoded.  Pixels outside a source's
footprint or equal to its nodata value come back as not valid.
"""

from __future__ import annotations

import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from ..errors import RasterReadError
from .raster import BandRef, Grid, ImageStack


@dataclass(frozen=True)
class Block:
    """Pixels of one window: ``data`` (bands, h, w) float32 and ``valid`` (h, w) bool."""

    data: np.ndarray
    valid: np.ndarray


class StackReader:
    """Reads windows of a stack on ``target``; not thread-safe, open one per thread.

    Use as a context manager so file handles are closed.
    """

    def __init__(
        self, stack: ImageStack, target: Grid, resampling: Resampling = Resampling.bilinear
    ) -> None:
        self.stack = stack
        self.target = target
        self.resampling = resampling
        self._exit = ExitStack()
        self._handles: dict[tuple[str, bool], rasterio.io.DatasetReaderBase] = {}

    def __enter__(self) -> StackReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._exit.close()
        self._handles.clear()

    def _handle(self, band: BandRef) -> tuple[rasterio.io.DatasetReaderBase, bool]:
        direct = band.grid.same_as(self.target)
        key = (str(band.path), direct)
        if key not in self._handles:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", NotGeoreferencedWarning)
                    src = self._exit.enter_context(rasterio.open(band.path))
                    if not direct:
                        src = self._exit.enter_context(
                            WarpedVRT(
                                src,
                                crs=self.target.crs,
                                transform=self.target.transform,
                                width=self.target.width,
                                height=self.target.height,
                                resampling=self.resampling,
                                add_alpha=True,
                            )
                        )
            except RasterioError as exc:
                raise RasterReadError(f"{band.path}: cannot be opened ({exc})") from None
            self._handles[key] = src
        return self._handles[key], direct

    def read(self, window: Window) -> Block:
        """Read ``window`` (in target pixels) of every band as float32, with validity."""
        h, w = int(window.height), int(window.width)
        data = np.empty((self.stack.count, h, w), np.float32)
        valid = np.ones((h, w), bool)
        # One read per file: a pixel-interleaved GeoTIFF decodes each block once for all bands.
        groups: dict[Path, list[int]] = {}
        for i, band in enumerate(self.stack.bands):
            groups.setdefault(band.path, []).append(i)
        for path, positions in groups.items():
            first = self.stack.bands[positions[0]]
            ds, direct = self._handle(first)
            indexes = [self.stack.bands[i].index for i in positions]
            try:
                data[positions] = ds.read(indexes, window=window, out_dtype="float32")
                if not direct:
                    valid &= ds.read(ds.count, window=window) > 0
            except RasterioError as exc:
                cause = exc.__cause__ or exc  # rasterio says "see previous exception"
                detail = str(cause).splitlines()[0] if str(cause) else "read error"
                raise RasterReadError(
                    f"{path}: read failed at rows {window.row_off}..{window.row_off + h} "
                    f"({detail}); the file is truncated or corrupt, re-export it"
                ) from None
            for i in positions:
                nodata = self.stack.bands[i].nodata
                if nodata is not None and not np.isnan(nodata):
                    valid &= data[i] != np.float32(nodata)
        valid &= np.isfinite(data).all(axis=0)
        return Block(data, valid)
