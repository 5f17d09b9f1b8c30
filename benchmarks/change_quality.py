"""Score pairwise change methods on the labelled pairs in ../shared/data/change.

Prints per-dataset mean precision, recall, F1, IoU and kappa of the change
class for each method, as a table and as JSON (``--json PATH`` also writes it).
Only pixels whose truth is not 255 are scored.  Every method runs with its
default settings (alpha 0.01), exactly as ``sitewatch change`` does.

    .venv/bin/python benchmarks/change_quality.py [--methods auto,irmad,cva] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from sitewatch.change.metrics import BinaryScores, score_binary
from sitewatch.pairwise import ChangeOptions, change_files

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
OPTICAL = ("oscd", "sztaki", "levir", "landsat")
SAR = ("sar",)
# The targets: mean F1 (and kappa for LEVIR) per dataset with the default method.
TARGETS = {"oscd": 0.35, "sztaki": 0.35, "levir": 0.35, "landsat": 0.93, "sar": 0.80}


def find_pairs(data: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for ds in sorted((data / "change").iterdir()):
        pairs = sorted(p for p in ds.iterdir() if (p / "truth.png").exists())
        if pairs:
            out[ds.name] = pairs
    return out


def image(pair: Path, stem: str) -> Path:
    for ext in (".tif", ".png"):
        if (pair / f"{stem}{ext}").exists():
            return pair / f"{stem}{ext}"
    raise FileNotFoundError(pair / stem)


def run_pair(pair: Path, method: str | None, tmp: Path) -> tuple[BinaryScores, float]:
    with rasterio.open(pair / "truth.png") as ds:
        truth = ds.read(1)
    out = tmp / f"{pair.parent.name}_{pair.name}_{method}.tif"
    t0 = time.perf_counter()
    change_files(image(pair, "before"), image(pair, "after"), out, ChangeOptions(method=method))
    elapsed = time.perf_counter() - t0
    with rasterio.open(out) as ds:
        mask = ds.read(1)
    return score_binary(mask, truth), elapsed


def log_ratio_otsu(pair: Path) -> BinaryScores:
    """The classical SAR baseline: |ln(after / before)| thresholded by Otsu's method."""
    from skimage.filters import threshold_otsu

    with rasterio.open(image(pair, "before")) as b, rasterio.open(image(pair, "after")) as a:
        x = b.read().astype(np.float64).mean(axis=0)
        y = a.read().astype(np.float64).mean(axis=0)
    lr = np.abs(np.log((y + 0.5) / (x + 0.5)))  # + half a level: 8-bit products hold zeros
    return score_binary((lr > threshold_otsu(lr)).astype(np.uint8), _truth(pair))


def summarise(scores: list[BinaryScores]) -> dict[str, float]:
    keys = ("precision", "recall", "f1", "iou", "kappa")
    return {k: float(np.mean([getattr(s, k) for s in scores])) for k in keys}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--methods", default="auto,irmad,cva,sar-ratio")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    if not (args.data / "change").is_dir():
        print(f"no labelled pairs under {args.data}/change; nothing to score", file=sys.stderr)
        return 1
    pairs = find_pairs(args.data)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as td:
        for dataset, items in pairs.items():
            for method in methods:
                if (method == "sar-ratio") != (dataset in SAR):
                    continue
                per_pair, seconds = {}, 0.0
                for pair in items:
                    s, t = run_pair(pair, method, Path(td))
                    per_pair[pair.name] = s.as_dict()
                    seconds += t
                all_change = [
                    score_binary(np.ones_like(t), t) for t in (_truth(p) for p in items)
                ]
                results.setdefault(dataset, {})[method] = {
                    "mean": summarise([BinaryScores(**_counts(v)) for v in per_pair.values()]),
                    "pairs": per_pair,
                    "seconds": round(seconds, 2),
                    "all_change_mean": summarise(all_change),
                }
        for dataset, items in pairs.items():
            if dataset in SAR:  # the baseline the issue names for the radar target
                base = [log_ratio_otsu(p) for p in items]
                results[dataset]["log-ratio+otsu"] = {
                    "mean": summarise(base), "pairs": {p.name: b.as_dict()
                                                       for p, b in zip(items, base)},
                    "seconds": 0.0,
                    "all_change_mean": summarise(
                        [score_binary(np.ones_like(t), t) for t in (_truth(p) for p in items)]
                    ),
                }  # fmt: skip
    print(f"{'dataset':8} {'method':14} {'P':>6} {'R':>6} {'F1':>6} {'IoU':>6} {'kappa':>6}"
          f" {'target':>6} {'all-change F1':>13} {'s':>6}")  # fmt: skip
    for dataset, by_method in results.items():
        for method, r in by_method.items():
            m = r["mean"]
            print(
                f"{dataset:8} {method:14} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} "
                f"{m['iou']:6.3f} {m['kappa']:6.3f} {TARGETS.get(dataset, float('nan')):6.2f} "
                f"{r['all_change_mean']['f1']:13.3f} {r['seconds']:6.1f}"
            )
    text = json.dumps(results, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(json.dumps({d: {m: r["mean"] for m, r in bm.items()} for d, bm in results.items()}))
    return 0


def _truth(pair: Path) -> np.ndarray:
    with rasterio.open(pair / "truth.png") as ds:
        return ds.read(1)


def _counts(d: dict[str, float]) -> dict[str, int]:
    return {k: int(d[k]) for k in ("tp", "fp", "fn", "tn")}


if __name__ == "__main__":
    warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the PNG pairs are plain images
    sys.exit(main())
