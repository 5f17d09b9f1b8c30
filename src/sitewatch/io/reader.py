"""Read windows of an :class:`ImageStack` onto a target grid.

Bands already on the target grid are read directly; any other band (another
CRS, pixel size or origin) goes through a GDAL warped VRT, so only the source
pixels under the requested window are decoded.  Pixels outside a source's
footprint or equal to its nodata value come back as not valid.

Readers on several threads can share a :class:`SharedBlocks` planned from
the windows they will read: overlapping windows (tiles with halos) then
decode each internal block of a file once instead of once per window.
"""

from __future__ import annotations

import threading
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
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


# blocks smaller than this (e.g. one-row strips) cost more in bookkeeping than decoding twice
MIN_SHARED_BLOCK_PX = 128 * 128
# dtypes whose every value float32 holds exactly, so a block converted here equals GDAL's read
_EXACT_IN_FLOAT32 = frozenset({"uint8", "int8", "uint16", "int16", "float32"})

BlockKey = tuple[int, int]


def _block_range(start: int, stop: int, size: int) -> range:
    return range(start // size, (stop - 1) // size + 1)


@dataclass
class _FileBlocks:
    """Blocks of one file (and one set of band indexes): shape, refcounts and decoded arrays."""

    block_shape: tuple[int, int]
    pending: Counter[BlockKey]
    ready: dict[BlockKey, np.ndarray | threading.Event] = field(default_factory=dict)

    def keys(self, window: Window) -> Iterator[BlockKey]:
        bh, bw = self.block_shape
        r0, c0 = int(window.row_off), int(window.col_off)
        for bi in _block_range(r0, r0 + int(window.height), bh):
            for bj in _block_range(c0, c0 + int(window.width), bw):
                yield bi, bj


class SharedBlocks:
    """Decoded file blocks shared by the readers of one stack on several threads.

    Planned from the windows that will be read (in target pixels): each
    internal block under them is decoded once, by whichever reader needs it
    first, and dropped when the last planned window needing it has been read,
    so memory holds only blocks still awaited (about one row of blocks per
    file when windows come in raster order).  Windows outside the plan, and
    bands that need warping, are read directly as usual.
    """

    def __init__(self, windows: Iterable[Window]) -> None:
        self._plan = Counter(_window_key(w) for w in windows)
        self._lock = threading.Lock()
        self._files: dict[tuple[str, tuple[int, ...]], _FileBlocks | None] = {}
        self.decoded = 0  # blocks decoded so far, over all files

    @property
    def held(self) -> int:
        """Blocks decoded (or being decoded) and still awaited by a planned window."""
        with self._lock:
            return sum(len(fb.ready) for fb in self._files.values() if fb is not None)

    def _file(self, ds: rasterio.io.DatasetReaderBase, indexes: list[int]) -> _FileBlocks | None:
        key = (str(ds.name), tuple(indexes))
        with self._lock:
            if key in self._files:
                return self._files[key]
            shapes = {tuple(ds.block_shapes[i - 1]) for i in indexes}
            dtypes = {ds.dtypes[i - 1] for i in indexes}
            fb = None
            if len(shapes) == 1 and dtypes <= _EXACT_IN_FLOAT32:
                bh, bw = shapes.pop()
                if bh * bw >= MIN_SHARED_BLOCK_PX:
                    fb = _FileBlocks((bh, bw), Counter())
                    for (r, c, h, w), n in self._plan.items():
                        for k in fb.keys(Window(c, r, w, h)):
                            fb.pending[k] += n
            self._files[key] = fb
            return fb

    def read(
        self,
        ds: rasterio.io.DatasetReaderBase,
        indexes: list[int],
        window: Window,
        out: np.ndarray,
    ) -> bool:
        """Fill ``out`` with bands ``indexes`` of ``window`` from shared blocks.

        Returns False, leaving ``out`` untouched, when the window is not
        planned or the file's blocks are not worth sharing.
        """
        if _window_key(window) not in self._plan:
            return False
        fb = self._file(ds, indexes)
        if fb is None:
            return False
        r0, c0 = int(window.row_off), int(window.col_off)
        h, w = int(window.height), int(window.width)
        if r0 < 0 or c0 < 0 or r0 + h > ds.height or c0 + w > ds.width:
            return False
        bh, bw = fb.block_shape
        keys = list(fb.keys(window))
        for bi, bj in keys:
            block = self._block(fb, ds, indexes, (bi, bj))
            ys, xs = max(r0, bi * bh), max(c0, bj * bw)
            ye, xe = min(r0 + h, (bi + 1) * bh), min(c0 + w, (bj + 1) * bw)
            out[:, ys - r0 : ye - r0, xs - c0 : xe - c0] = block[
                :, ys - bi * bh : ye - bi * bh, xs - bj * bw : xe - bj * bw
            ]
        with self._lock:
            for k in keys:
                fb.pending[k] -= 1
                if fb.pending[k] <= 0:
                    del fb.pending[k]
                    fb.ready.pop(k, None)
        return True

    def _block(
        self,
        fb: _FileBlocks,
        ds: rasterio.io.DatasetReaderBase,
        indexes: list[int],
        key: BlockKey,
    ) -> np.ndarray:
        while True:
            with self._lock:
                entry = fb.ready.get(key)
                if entry is None:
                    claim = threading.Event()
                    fb.ready[key] = claim
            if isinstance(entry, np.ndarray):
                return entry
            if entry is not None:  # another reader is decoding it
                entry.wait()
                continue
            bh, bw = fb.block_shape
            bi, bj = key
            win = Window(
                bj * bw, bi * bh, min(bw, ds.width - bj * bw), min(bh, ds.height - bi * bh)
            )
            try:
                block = ds.read(indexes, window=win)
            except BaseException:
                with self._lock:
                    del fb.ready[key]
                claim.set()
                raise
            with self._lock:
                fb.ready[key] = block
                self.decoded += 1
            claim.set()
            return block


def _window_key(window: Window) -> tuple[int, int, int, int]:
    return int(window.row_off), int(window.col_off), int(window.height), int(window.width)


class StackReader:
    """Reads windows of a stack on ``target``; not thread-safe, open one per thread.

    Use as a context manager so file handles are closed.  Readers on other
    threads may pass the same ``shared`` blocks (see :class:`SharedBlocks`).
    """

    def __init__(
        self,
        stack: ImageStack,
        target: Grid,
        resampling: Resampling = Resampling.bilinear,
        shared: SharedBlocks | None = None,
    ) -> None:
        self.stack = stack
        self.target = target
        self.resampling = resampling
        self.shared = shared
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
        maybe_nonfinite = False
        for path, positions in groups.items():
            first = self.stack.bands[positions[0]]
            ds, direct = self._handle(first)
            indexes = [self.stack.bands[i].index for i in positions]
            maybe_nonfinite |= any(
                not np.issubdtype(np.dtype(ds.dtypes[i - 1]), np.integer) for i in indexes
            )
            # read straight into the stack when the file's bands are consecutive in it
            lo = positions[0]
            in_place = positions == list(range(lo, lo + len(positions)))
            dest = data[lo : lo + len(positions)] if in_place else np.empty_like(data[positions])
            try:
                if not (direct and self.shared and self.shared.read(ds, indexes, window, dest)):
                    ds.read(indexes, window=window, out=dest)
                if not in_place:
                    data[positions] = dest
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
        if maybe_nonfinite:
            valid &= np.isfinite(data).all(axis=0)
        return Block(data, valid)
