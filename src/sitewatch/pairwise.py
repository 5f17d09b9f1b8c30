"""Pairwise change detection over two image files, tile by tile in bounded memory.

Two passes: a method is fitted on a spread-out sample of blocks of the pair,
then every tile (plus a halo of neighbours, so spatial filters and the minimum
mapping unit see across tile seams) is scored, decided at ``alpha`` and
cleaned.  Results go to a sink one tile at a time; nothing holds the whole image.
"""

from __future__ import annotations

import math
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from rasterio.env import set_gdal_config
from rasterio.windows import Window

from .change.base import ChangeMethod, FittedChange, PairSample
from .change.clean import clean_decision
from .change.registry import get_method
from .errors import InputError, NoValidDataError
from .io.pair import ImagePair, open_pair
from .io.reader import Block, SharedBlocks, StackReader
from .io.vector import mask_features, write_feature_collection
from .io.writers import NOT_JUDGED, TileWriter, check_output_path, committed

SAMPLE_PIXELS = 4_194_304  # fit on at most ~4 Mpx: enough for stable statistics, cheap to read
SAMPLE_BLOCK = 512
# Halo for the minimum mapping unit: exact for --min-area up to this many pixels; larger
# regions crossing a tile seam are judged on what the tile and its halo see.
MAX_CLEANUP_HALO = 256
# GDAL's default block cache is 5% of RAM; tiles are read once (plus halos), so a small one
# keeps peak memory down at no cost in speed.
GDAL_CACHE_MB = 256
SAR_NAMES = frozenset({"vv", "vh", "hh", "hv"})

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class MinArea:
    """A minimum mapping unit in pixels or square metres."""

    value: float
    unit: str = "px"

    @classmethod
    def parse(cls, text: str) -> MinArea:
        """Parse ``"12"``, ``"12px"``, ``"500m2"`` or ``"500m²"``."""
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(px|m2|m²)?\s*", text)
        if not m:
            raise InputError(
                f"--min-area: {text!r} is not an area; give pixels (e.g. 12 or 12px) "
                "or square metres (e.g. 500m2)"
            )
        unit = "m2" if m.group(2) in ("m2", "m²") else "px"
        return cls(float(m.group(1)), unit)

    def pixels(self, pixel_size_m: float | None) -> int:
        if self.unit == "px":
            return int(math.ceil(self.value))
        if pixel_size_m is None:
            raise InputError(
                f"--min-area: {self.value:g} m2 needs georeferenced images; these are in pixel "
                "space, so give the area in pixels (e.g. --min-area 12)"
            )
        return int(math.ceil(self.value / pixel_size_m**2))


@dataclass(frozen=True)
class ChangeOptions:
    """How to run a pairwise change detection; None means the method's default."""

    method: str | None = None
    alpha: float = 0.01
    min_area: MinArea | None = None
    radius_px: int | None = None
    tile_size: int = 1024
    workers: int = 2

    def __post_init__(self) -> None:
        if not (0.0 < self.alpha < 1.0) or math.isnan(self.alpha):
            raise InputError(
                f"--alpha: {self.alpha} is not a false-alarm rate; give a value strictly "
                "between 0 and 1, e.g. 0.01"
            )
        if self.radius_px is not None and self.radius_px < 0:
            raise InputError(f"--radius: {self.radius_px} is negative; give 0 or more pixels")
        if self.tile_size < 64:
            raise InputError(f"tile_size: {self.tile_size} is too small; give 64 or more")


@dataclass(frozen=True)
class PairChangeResult:
    """What a pairwise run found, in counts of pixels on the pair's grid."""

    method: str
    alpha: float
    band_names: tuple[str, ...]
    n_change: int
    n_no_change: int
    n_not_judged: int
    min_area_px: int
    radius_px: int
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def change_fraction(self) -> float:
        judged = self.n_change + self.n_no_change
        return self.n_change / judged if judged else 0.0


def choose_method(pair: ImagePair, name: str | None) -> ChangeMethod:
    """The method to use: the named one, or the best default for the pair's sensor."""
    if name is None:
        name = "sar-ratio" if set(pair.band_names) <= SAR_NAMES else "auto"
    return get_method(name)


def _sample_windows(overlap: Window) -> list[Window]:
    h, w = int(overlap.height), int(overlap.width)
    if h * w <= SAMPLE_PIXELS:
        return [overlap]
    n = SAMPLE_PIXELS // SAMPLE_BLOCK**2
    ny = max(1, min(n, round(math.sqrt(n * h / w))))
    nx = max(1, n // ny)
    bh, bw = min(SAMPLE_BLOCK, h), min(SAMPLE_BLOCK, w)
    out = []
    for i in range(ny):
        for j in range(nx):
            r = int(overlap.row_off + (i + 0.5) * h / ny - bh / 2)
            c = int(overlap.col_off + (j + 0.5) * w / nx - bw / 2)
            r = min(max(r, int(overlap.row_off)), int(overlap.row_off) + h - bh)
            c = min(max(c, int(overlap.col_off)), int(overlap.col_off) + w - bw)
            out.append(Window(c, r, bw, bh))
    return out


def _read_both(pair: ImagePair, windows: list[Window]) -> list[tuple[Block, Block]]:
    """Read ``windows`` of both images with one pair of readers (a thread's share)."""
    with StackReader(pair.before, pair.grid) as rb, StackReader(pair.after, pair.grid) as ra:
        return [(rb.read(win), ra.read(win)) for win in windows]


def read_sample(pair: ImagePair, workers: int = 1) -> PairSample:
    """Read the fitting sample of a pair and check there is something to compare.

    ``workers`` threads share the reading (decoding is the cost, and GDAL
    releases the GIL while it decodes); the sample does not depend on it.

    Raises
    ------
    NoValidDataError
        When either image has no valid pixel where they overlap, or is constant.
    """
    windows = _sample_windows(pair.overlap)
    threads = max(1, min(workers, len(windows)))
    with ThreadPoolExecutor(threads) as pool:
        shares = list(
            pool.map(partial(_read_both, pair), [windows[k::threads] for k in range(threads)])
        )
    before, after, valid = [], [], []
    n_before = n_after = 0
    for i in range(len(windows)):
        b, a = shares[i % threads][i // threads]
        before.append(b.data)
        after.append(a.data)
        valid.append(b.valid & a.valid)
        n_before += int(b.valid.sum())
        n_after += int(a.valid.sum())
    for label, stack, n in (("BEFORE", pair.before, n_before), ("AFTER", pair.after, n_after)):
        if n == 0:
            raise NoValidDataError(
                f"{label} {stack.source} holds only nodata where the images overlap; "
                "check its nodata value and that it covers the same place"
            )
    if sum(int(v.sum()) for v in valid) == 0:
        raise NoValidDataError(
            f"{pair.before.source} and {pair.after.source} have no valid pixel in common; "
            "give images whose valid areas overlap"
        )
    for label, stack, blocks in (("BEFORE", pair.before, before), ("AFTER", pair.after, after)):
        spread = max(
            float(np.ptp(np.concatenate([blk[i][v] for blk, v in zip(blocks, valid)])))
            for i in range(stack.count)
        )
        if spread == 0.0:
            raise NoValidDataError(
                f"{label} {stack.source} is constant (every valid pixel has the same value), "
                "so no change can be measured; check the file is the right image"
            )
    return PairSample(before, after, valid, pair.pixel_size_m, pair.band_names)


def _tiles(height: int, width: int, size: int) -> Iterator[Window]:
    for r in range(0, height, size):
        for c in range(0, width, size):
            yield Window(c, r, min(size, width - c), min(size, height - r))


def _intersects(a: Window, b: Window) -> bool:
    return (
        a.col_off < b.col_off + b.width
        and b.col_off < a.col_off + a.width
        and a.row_off < b.row_off + b.height
        and b.row_off < a.row_off + a.height
    )


@dataclass(frozen=True)
class _TileJob:
    fitted: FittedChange
    alpha: float
    radius_px: int
    min_area_px: int
    halo: int


def _padded(tile: Window, pair: ImagePair, halo: int) -> Window | None:
    """The tile grown by ``halo`` on the pair's grid; None when it lies outside the overlap."""
    if not _intersects(tile, pair.overlap):
        return None
    gh, gw = pair.grid.shape
    r0, c0 = max(0, int(tile.row_off) - halo), max(0, int(tile.col_off) - halo)
    r1 = min(gh, int(tile.row_off) + int(tile.height) + halo)
    c1 = min(gw, int(tile.col_off) + int(tile.width) + halo)
    return Window(c0, r0, c1 - c0, r1 - r0)


def _process_tile(
    tile: Window, pair: ImagePair, job: _TileJob, readers: tuple[StackReader, StackReader]
) -> tuple[np.ndarray, np.ndarray]:
    h, w = int(tile.height), int(tile.width)
    mask = np.full((h, w), NOT_JUDGED, np.uint8)
    p_out = np.full((h, w), np.nan, np.float32)
    padded = _padded(tile, pair, job.halo)
    if padded is None:
        return mask, p_out
    gh, gw = pair.grid.shape
    r0, c0 = int(padded.row_off), int(padded.col_off)
    r1, c1 = r0 + int(padded.height), c0 + int(padded.width)
    rb, ra = readers
    b, a = rb.read(padded), ra.read(padded)
    valid = b.valid & a.valid
    if not valid.any():
        return mask, p_out
    score = job.fitted.score(b.data, a.data, valid)
    with np.errstate(invalid="ignore"):
        decision = (score.p_value < job.alpha) & valid
    decision = clean_decision(
        decision,
        valid,
        radius_px=job.radius_px,
        min_area_px=job.min_area_px,
        open_edges=(r0 > 0, r1 < gh, c0 > 0, c1 < gw),
    )
    sl = (
        slice(int(tile.row_off) - r0, int(tile.row_off) - r0 + h),
        slice(int(tile.col_off) - c0, int(tile.col_off) - c0 + w),
    )
    v = valid[sl]
    mask[v] = decision[sl][v].astype(np.uint8)
    p_out[v] = score.p_value[sl][v]
    return mask, p_out


def _arrived(results: Mapping[int, object], i: int) -> bool:
    return i in results or -1 in results  # -1: a worker failed before its first tile


def _run_tiles(
    tiles: list[Window], pair: ImagePair, job: _TileJob, workers: int
) -> Iterator[tuple[Window, tuple[np.ndarray, np.ndarray]]]:
    """Process tiles on ``workers`` threads, yielding results in tile order.

    Each thread opens its own readers and closes them itself: rasterio handles
    and GDAL's environment belong to the thread that made them.  The readers
    share decoded file blocks, so the halos of neighbouring tiles do not
    decode the same blocks again.  At most ``2 * workers`` finished tiles wait
    for the consumer, so memory stays flat.
    """
    planned = [w for w in (_padded(t, pair, job.halo) for t in tiles) if w is not None]
    shared_b, shared_a = SharedBlocks(planned), SharedBlocks(planned)
    todo: queue.Queue[int] = queue.Queue()
    for i in range(len(tiles)):
        todo.put(i)
    results: dict[int, tuple[np.ndarray, np.ndarray] | BaseException] = {}
    ready = threading.Condition()
    stop = threading.Event()
    room = threading.Semaphore(2 * workers)

    def work() -> None:
        try:
            with (
                StackReader(pair.before, pair.grid, shared=shared_b) as rb,
                StackReader(pair.after, pair.grid, shared=shared_a) as ra,
            ):
                while not stop.is_set():
                    # slot first, then tile: tiles are taken in order, each with its slot, so
                    # the tile the consumer waits for can never be starved of a slot
                    room.acquire()
                    try:
                        i = todo.get_nowait()
                    except queue.Empty:
                        room.release()
                        return
                    try:
                        res: tuple[np.ndarray, np.ndarray] | BaseException = _process_tile(
                            tiles[i], pair, job, (rb, ra)
                        )
                    except BaseException as exc:  # handed to the consumer, re-raised there
                        res = exc
                    with ready:
                        results[i] = res
                        ready.notify_all()
        except BaseException as exc:  # e.g. a file that cannot be opened
            with ready:
                results[-1] = exc
                ready.notify_all()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    try:
        for i in range(len(tiles)):
            with ready:
                ready.wait_for(partial(_arrived, results, i))
                res = results.pop(i) if i in results else results[-1]
            room.release()
            if isinstance(res, BaseException):
                raise res
            yield tiles[i], res
    finally:
        stop.set()
        for _ in threads:
            room.release()
        for t in threads:
            t.join()


TileSink = Callable[[Window, np.ndarray, np.ndarray], None]


def detect_pair(
    pair: ImagePair,
    options: ChangeOptions,
    sink: TileSink,
    progress: Progress | None = None,
) -> PairChangeResult:
    """Detect change between the two images of ``pair``, handing each tile to ``sink``.

    Parameters
    ----------
    pair
        From :func:`sitewatch.io.pair.open_pair`.
    options
        Method, false-alarm rate, clean-up, tiling.
    sink
        Called in raster order with ``(window, mask, p_value)``: ``mask`` uint8
        (1 change, 0 no change, 255 not judged), ``p_value`` float32 (NaN where
        not judged).
    progress
        Called with ``(tiles_done, tiles_total)``.
    """
    method = choose_method(pair, options.method)
    if "GDAL_CACHEMAX" not in os.environ:
        set_gdal_config("GDAL_CACHEMAX", GDAL_CACHE_MB)
    sample = read_sample(pair, max(1, options.workers))
    fitted = method.fit(sample)
    del sample  # the fit keeps what it needs; the sample's pixels are not needed any more
    defaults = method.cleanup(pair.pixel_size_m)
    min_area_px = (
        options.min_area.pixels(pair.pixel_size_m) if options.min_area else defaults.min_area_px
    )
    radius = options.radius_px if options.radius_px is not None else defaults.radius_px
    # opening then closing reach 4 radii; a region under min_area spans fewer pixels than that
    halo = fitted.halo + 4 * radius + min(max(min_area_px, 0), MAX_CLEANUP_HALO)
    job = _TileJob(fitted, options.alpha, radius, min_area_px, halo)
    tiles = list(_tiles(pair.grid.height, pair.grid.width, options.tile_size))
    counts = np.zeros(3, np.int64)
    done = 0
    if progress:
        progress(0, len(tiles))
    for tile, (mask, p) in _run_tiles(tiles, pair, job, max(1, options.workers)):
        counts += np.bincount(mask.ravel(), minlength=256)[[1, 0, NOT_JUDGED]]
        sink(tile, mask, p)
        done += 1
        if progress:
            progress(done, len(tiles))
    return PairChangeResult(
        method=method.name,
        alpha=options.alpha,
        band_names=pair.band_names,
        n_change=int(counts[0]),
        n_no_change=int(counts[1]),
        n_not_judged=int(counts[2]),
        min_area_px=min_area_px,
        radius_px=radius,
    )


def change_files(
    before: str | Path,
    after: str | Path,
    out: str | Path,
    options: ChangeOptions | None = None,
    *,
    bands: list[str] | None = None,
    probability: str | Path | None = None,
    vector: str | Path | None = None,
    progress: Progress | None = None,
) -> PairChangeResult:
    """Compare two image files and write the change mask (and optional extras).

    Outputs appear only when the whole run succeeds; on any error none of
    them is left behind (an existing file of the same name is kept as it was).

    Parameters
    ----------
    before, after
        Image files or per-band folders (see :func:`sitewatch.io.raster.open_image`).
    out
        Mask path (``.tif`` or ``.png``): uint8, 1 change, 0 no change, 255 not judged.
    probability
        Optional float32 GeoTIFF: band 1 ``1 - p_value`` (confidence of change),
        band 2 the p-value under "no change".
    vector
        Optional GeoJSON of change polygons (EPSG:4326 when georeferenced).
    """
    options = options or ChangeOptions()
    out_p = check_output_path(out, "--out")
    prob_p = check_output_path(probability, "--probability") if probability else None
    vec_p = check_output_path(vector, "--vector") if vector else None
    if prob_p is not None and prob_p.suffix.lower() not in (".tif", ".tiff"):
        raise InputError(f"--probability: {prob_p.name} should end in .tif (float32 GeoTIFF)")
    pair = open_pair(before, after, bands)
    outputs: dict[str, str] = {"mask": str(out_p)}
    with committed() as commit:
        mask_w = TileWriter(
            commit.reserve(out_p), pair.grid, 1, "uint8", NOT_JUDGED, ("change (1), no change (0)",)
        )
        prob_w = None
        if prob_p is not None:
            prob_w = TileWriter(
                commit.reserve(prob_p), pair.grid, 2, "float32", float("nan"),
                ("1 - p_value (confidence of change)", "p_value under no change"),
            )  # fmt: skip
            outputs["probability"] = str(prob_p)
        keep_mask = vec_p is not None
        full_mask = np.zeros(pair.grid.shape, np.uint8) if keep_mask else None
        full_p = np.zeros(pair.grid.shape, np.float32) if keep_mask else None

        def sink(win: Window, mask: np.ndarray, p: np.ndarray) -> None:
            mask_w.write(win, mask[None])
            if prob_w is not None:
                prob_w.write(win, np.stack([np.where(np.isnan(p), np.nan, 1.0 - p), p]))
            if full_mask is not None and full_p is not None:
                r, c = int(win.row_off), int(win.col_off)
                full_mask[r : r + mask.shape[0], c : c + mask.shape[1]] = mask
                full_p[r : r + mask.shape[0], c : c + mask.shape[1]] = p

        try:
            result = detect_pair(pair, options, sink, progress)
        finally:
            mask_w.close()
            if prob_w is not None:
                prob_w.close()
        if vec_p is not None and full_mask is not None:
            feats = mask_features(full_mask, pair.grid, full_p)
            write_feature_collection(
                commit.reserve(vec_p), feats, pair.grid,
                sitewatch={"method": result.method, "alpha": result.alpha,
                           "before": str(before), "after": str(after)},
            )  # fmt: skip
            outputs["vector"] = str(vec_p)
    return PairChangeResult(**{**result.__dict__, "outputs": outputs})
