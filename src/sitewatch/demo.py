"""The built-in demo: a simulated site with known change, detected and scored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from .change.metrics import BinaryScores, score_binary
from .errors import OutputError
from .io.raster import Grid
from .io.writers import write_geotiff, write_text_atomic
from .pairwise import PairChangeResult, Progress, change_files
from .sim.pair import simulate_pair

# Near the Sohae launch station (39.66 N, 124.705 E), UTM zone 51N, 3 m pixels.
DEMO_GRID_ORIGIN = (645_500.0, 4_392_200.0)  # centres the 1536 m scene on the station
DEMO_CRS = "EPSG:32651"
DEMO_PIXEL_M = 3.0


@dataclass(frozen=True)
class DemoSummary:
    """Where the demo wrote its files and how well the change was found."""

    out_dir: Path
    result: PairChangeResult
    scores: BinaryScores

    def lines(self) -> list[str]:
        s = self.scores
        return [
            f"Simulated pair and change mask written to {self.out_dir}/",
            f"  before.tif, after.tif   simulated 4-band images ({DEMO_PIXEL_M:g} m, {DEMO_CRS})",
            "  truth.tif               the changes the simulator put in",
            f"  change.tif              detected change (method {self.result.method}, "
            f"alpha {self.result.alpha:g})",
            "  changes.geojson         detected change polygons (EPSG:4326)",
            f"Against the truth: precision {s.precision:.2f}, recall {s.recall:.2f}, "
            f"F1 {s.f1:.2f}, kappa {s.kappa:.2f}",
        ]


def run_demo(out_dir: Path, seed: int = 7, progress: Progress | None = None) -> DemoSummary:
    """Simulate a pair, detect change with default settings, score it against the truth."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out: {out_dir} is a file; give a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    sim = simulate_pair(seed=seed)
    h, w = sim.truth.shape
    grid = Grid(
        w, h, Affine(DEMO_PIXEL_M, 0, DEMO_GRID_ORIGIN[0], 0, -DEMO_PIXEL_M, DEMO_GRID_ORIGIN[1]),
        CRS.from_user_input(DEMO_CRS),
    )  # fmt: skip
    write_geotiff(out_dir / "before.tif", sim.before, grid, sim.band_names)
    write_geotiff(out_dir / "after.tif", sim.after, grid, sim.band_names)
    write_geotiff(out_dir / "truth.tif", sim.truth[None], grid, ("true change",))
    result = change_files(
        out_dir / "before.tif", out_dir / "after.tif", out_dir / "change.tif",
        vector=out_dir / "changes.geojson", progress=progress,
    )  # fmt: skip
    import rasterio

    with rasterio.open(out_dir / "change.tif") as ds:
        mask = ds.read(1)
    scores = score_binary(mask, sim.truth.astype(np.uint8))
    write_text_atomic(out_dir / "scores.json", json.dumps(scores.as_dict(), indent=2) + "\n")
    return DemoSummary(out_dir, result, scores)
