"""Event quality of ``sitewatch run`` on real Sentinel-2 ground (benchmark).

The simulator draws its own ground; the pipeline must hold on real imagery too.
This builds 20-date series (10-day cadence) on a crop of an OSCD Sentinel-2
image in ../shared/data (blue, green, red, NIR at 10 m, EPSG:4326): the image
is the unchanging ground, and each date adds what a series adds: a gain and an
offset per band, sensor noise, a sub-pixel misregistration, clouds with their
shadows (every fourth date; shadows may come from clouds off the crop), a haze
veil (every fifth) and, on one date, delivery in UTM instead of EPSG:4326.
Four rectangles of 50-90 m (roof, asphalt, bare soil) appear at known dates;
``truth/events.geojson`` dates each at the first acquisition on or after its
onset where at least half its footprint is clear.  The ``quiet`` series of the
same seed has none of them.  Prints one JSON object and a table; skips (exit
status 0, and says so) when ../shared/data is absent::

    .venv/bin/python benchmarks/real_background.py --seeds 1-3
    .venv/bin/python benchmarks/real_background.py --seeds 1 --city rennes --keep /tmp/rb
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from fresh_run import run_fresh
from rasterio.transform import array_bounds
from rasterio.warp import Resampling, calculate_default_transform, reproject
from rasterio.windows import Window
from scipy import ndimage as ndi
from seeds import parse_seeds
from shapely.geometry import box, mapping

ROOT = Path(__file__).resolve().parents[1]
OSCD = ROOT / ".." / "shared" / "data" / "change" / "oscd"
SIZE = 320  # px of the crop: 3.2 km
MARGIN = 20  # px between the crop's edge and the site polygon
DATES = [dt.date(2019, 1, 5) + dt.timedelta(days=10 * i) for i in range(20)]
ONSETS = (5, 9, 13, 16)  # date indexes at which the four changes appear
#: surface reflectance of what appears (blue, green, red, nir)
SPECTRA = {
    "roof": (0.28, 0.30, 0.31, 0.33),
    "asphalt": (0.05, 0.06, 0.07, 0.09),
    "bare soil": (0.12, 0.16, 0.22, 0.26),
}
CLOUD = np.array([0.45, 0.45, 0.44, 0.46], np.float32)
HAZE = np.array([0.12, 0.09, 0.06, 0.03], np.float32)  # path radiance: scattering falls with λ
UTM_DATE = 7


def _ground(city: str) -> tuple[np.ndarray, Any, Any]:
    """The central ``SIZE`` px crop of the city's first-date image, reflectance 0..1."""
    with rasterio.open(OSCD / city / "before.tif") as src:
        r0, c0 = (src.height - SIZE) // 2, (src.width - SIZE) // 2
        win = Window(c0, r0, SIZE, SIZE)
        data = src.read(window=win).astype(np.float32) / 10000.0
        return data, src.window_transform(win), src.crs


def _blob(rng: np.random.Generator, sigma: float) -> np.ndarray:
    f = ndi.gaussian_filter(rng.standard_normal((SIZE, SIZE)), sigma, mode="wrap")
    return f / f.std()


def _changes(rng: np.random.Generator, ground: np.ndarray) -> list[dict[str, Any]]:
    out = []
    for onset, name in zip(ONSETS, ("roof", "asphalt", "bare soil", "roof")):
        h, w = (int(v) for v in rng.integers(5, 10, size=2))
        y, x = (int(v) for v in rng.integers(MARGIN + 30, SIZE - MARGIN - 40, size=2))
        spec = np.asarray(SPECTRA[name], np.float32)
        before = ground[:, y : y + h, x : x + w].mean()
        kind = "appeared" if spec.mean() > before else "disappeared"
        out.append({"onset": onset, "box": (y, x, h, w), "spec": spec, "label": name, "kind": kind})
    return out


def _scene(
    rng: np.random.Generator, ground: np.ndarray, i: int, changes: list[dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray]:
    """Reflectance of date ``i`` and its clear mask (cloud opacity under 0.05)."""
    img = ground.copy()
    for c in changes:
        if i >= c["onset"]:
            y, x, h, w = c["box"]
            img[:, y : y + h, x : x + w] = c["spec"][:, None, None]
    dy, dx = rng.uniform(-0.6, 0.6, size=2)
    img = np.stack([ndi.shift(b, (dy, dx), order=3, mode="reflect") for b in img])
    opacity = np.zeros((SIZE, SIZE), np.float32)
    if i % 4 == 2:
        field = _blob(rng, 25.0)
        opacity = np.clip((field - np.quantile(field, 1 - rng.uniform(0.1, 0.4))) / 0.4 + 0.5, 0, 1)
        # rolled, so some shadows belong to clouds off the crop
        offset = (int(rng.integers(15, 40)), int(rng.integers(-40, -15)))
        shadow = np.roll(opacity, offset, axis=(0, 1)) * (1 - opacity)
        img = img * (1 - 0.6 * shadow)[None]
        img = img * (1 - opacity)[None] + CLOUD[:, None, None] * opacity[None]
    if i % 5 == 3:
        veil = 0.15 * (0.5 + 0.125 * (_blob(rng, 60.0) + 2.0))
        img = img * (1 - 0.2 * veil)[None] + HAZE[:, None, None] * veil[None]
    gain = rng.uniform(0.93, 1.07, 4).astype(np.float32)[:, None, None]
    offset_r = rng.uniform(-0.01, 0.01, 4).astype(np.float32)[:, None, None]
    img = img * gain + offset_r + rng.normal(0.0, 0.004, img.shape).astype(np.float32)
    return img, opacity < 0.05


def _write(path: Path, img: np.ndarray, transform: Any, crs: Any, utm: bool) -> None:
    data = np.clip(np.rint(img * 10000), 1, 65535).astype(np.uint16)
    profile: dict[str, Any] = dict(driver="GTiff", width=SIZE, height=SIZE, count=4,
                                   dtype="uint16", nodata=0, crs=crs, transform=transform,
                                   compress="deflate")  # fmt: skip
    if utm:
        lon = (array_bounds(SIZE, SIZE, transform)[0] + array_bounds(SIZE, SIZE, transform)[2]) / 2
        dst_crs = f"EPSG:{32600 + int((lon + 180) // 6) + 1}"
        t2, w2, h2 = calculate_default_transform(
            crs, dst_crs, SIZE, SIZE, *array_bounds(SIZE, SIZE, transform), resolution=10.0
        )
        out = np.zeros((4, int(h2), int(w2)), np.uint16)
        reproject(data, out, src_transform=transform, src_crs=crs, dst_transform=t2,
                  dst_crs=dst_crs, resampling=Resampling.bilinear, src_nodata=0,
                  dst_nodata=0)  # fmt: skip
        data = out
        profile.update(crs=dst_crs, transform=t2, width=int(w2), height=int(h2))
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        ds.descriptions = ("blue", "green", "red", "nir")


def _polygon(transform: Any, r0: int, c0: int, r1: int, c1: int) -> Any:
    x0, y0 = transform * (c0, r0)
    x1, y1 = transform * (c1, r1)
    return box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def build(out: Path, city: str, seed: int, quiet: bool) -> int:
    """Write ``images/``, ``site.geojson`` and ``truth/events.geojson``; return the truth count."""
    ground, transform, crs = _ground(city)
    rng = np.random.default_rng([seed, 1 if quiet else 0])
    changes = [] if quiet else _changes(np.random.default_rng(seed), ground)
    (out / "images").mkdir(parents=True)
    (out / "truth").mkdir()
    clear = []
    for i, d in enumerate(DATES):
        img, ok = _scene(rng, ground, i, changes)
        clear.append(ok)
        _write(out / "images" / f"S2_{d:%Y%m%d}.tif", img, transform, crs, i == UTM_DATE)
    site = _polygon(transform, MARGIN, MARGIN, SIZE - MARGIN, SIZE - MARGIN)
    core = _polygon(transform, 3 * MARGIN, 3 * MARGIN, SIZE - 3 * MARGIN, SIZE - 3 * MARGIN)
    site_props = {"role": "site", "name": f"{city} (real ground)", "profile": "construction"}
    features = [
        {"type": "Feature", "geometry": mapping(site), "properties": site_props},
        {
            "type": "Feature",
            "geometry": mapping(core),
            "properties": {"role": "zone", "zone": "core"},
        },
    ]
    (out / "site.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features})
    )
    feats = []
    for k, c in enumerate(changes, start=1):
        y, x, h, w = c["box"]
        seen = [bool(ok[y : y + h, x : x + w].mean() >= 0.5) for ok in clear]
        first = next((DATES[i] for i in range(c["onset"], len(DATES)) if seen[i]), None)
        props = {
            "event_id": f"t{k:02d}",
            "kind": c["kind"],
            "label": c["label"],
            "first_seen": first.isoformat() if first else None,
            "onset": DATES[c["onset"]].isoformat(),
        }
        geometry = mapping(_polygon(transform, y, x, y + h, x + w))
        feats.append({"type": "Feature", "geometry": geometry, "properties": props})
    (out / "truth" / "events.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": feats})
    )
    return len(feats)


def one(root: Path, city: str, seed: int, quiet: bool) -> dict[str, Any]:
    from sitewatch.sim.score import score_events

    base = root / f"{city}-{'quiet' if quiet else 'changes'}-{seed}"
    build(base, city, seed, quiet)
    run = run_fresh(str(base / "site.geojson"), str(base / "images"), str(base / "run"))
    truth = json.loads((base / "truth" / "events.geojson").read_text())
    found = json.loads((base / "run" / "events.geojson").read_text())
    s = score_events(truth, found)
    series = "quiet" if quiet else "changes"
    stats = {"wall_s": round(run["wall_s"], 2), "n_events": run["n_events"]}
    return {"series": series, "city": city, "seed": seed, **stats, **s.as_dict()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="1-3", help="e.g. 1-3 or 1,4")
    ap.add_argument("--city", default="cupertino", help="an OSCD city in ../shared/data")
    ap.add_argument("--keep", type=Path, default=None, help="folder (new) to keep the series in")
    args = ap.parse_args(argv)
    if not (OSCD / args.city / "before.tif").exists():
        print(f"skipped: {OSCD / args.city / 'before.tif'} is absent (real data lives in "
              "../shared/data, never in this repository)")  # fmt: skip
        return
    runs = []
    with tempfile.TemporaryDirectory(prefix="sitewatch-realbg-") as tmp:
        root = args.keep if args.keep is not None else Path(tmp)
        for quiet in (False, True):
            for seed in parse_seeds(args.seeds):
                runs.append(one(root, args.city, seed, quiet))
                print(f"done {runs[-1]['series']} seed {seed}", file=sys.stderr)
    print(json.dumps({"runs": runs}, indent=1))
    cols = ("recall", "precision", "first_seen", "events", "persist.")
    keys = ("recall_persistent", "precision_persistent", "first_seen_exact", "n_events",
            "n_detected_persistent")  # fmt: skip
    print(f"{'series':<10}" + "".join(f"{c:>12}" for c in cols))
    for series in ("changes", "quiet"):
        rs = [r for r in runs if r["series"] == series]
        # a quiet series has nothing to find: its recall and precision say nothing
        shown = keys if series == "changes" else keys[3:]
        cells = [
            f"{float(np.nanmean([r[k] for r in rs])):>12.3g}" if k in shown else f"{'-':>12}"
            for k in keys
        ]
        print(f"{series:<10}" + "".join(cells))


if __name__ == "__main__":
    main()
