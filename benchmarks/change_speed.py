"""Wall time and peak memory of ``sitewatch change`` on a full Sentinel-2-tile-sized pair.

Builds (once, cached) 4-band uint16 pairs of 1/16, 1/4 and the full area of a
Sentinel-2 tile (10980 x 10980 px), tiled by mirroring a real OSCD pair from
../shared/data (or the built-in simulated pair when that is absent), stored as
tiled DEFLATE GeoTIFFs.  Each run is a separate process, timed from outside;
peak RSS is the child's maximum resident set.  ORFEO Toolbox's
``otbcli_MultivariateAlterationDetector`` (plain MAD) runs on the full pair in
the same script as the baseline; this script installs nothing, and says so
when OTB is absent (Debian package ``otb-bin``).

    .venv/bin/python benchmarks/change_speed.py [--cache DIR] [--skip-otb] [--sizes 2745,5490,10980]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

ROOT = Path(__file__).resolve().parents[1]
SHARED_PAIR = ROOT / ".." / "shared" / "data" / "change" / "oscd" / "cupertino"
FULL = 10980
BLOCK = 1024


def _source_pair() -> tuple[np.ndarray, np.ndarray, str]:
    if (SHARED_PAIR / "before.tif").exists():
        with rasterio.open(SHARED_PAIR / "before.tif") as b:
            with rasterio.open(SHARED_PAIR / "after.tif") as a:
                return b.read(), a.read(), "OSCD cupertino (mirrored)"
    from sitewatch.sim.pair import simulate_pair

    sim = simulate_pair(size=768, seed=3)
    return sim.before, sim.after, "simulated pair (mirrored; ../shared/data absent)"


def _mirror_index(start: int, length: int, period: int) -> np.ndarray:
    i = np.arange(start, start + length) % (2 * period)
    return np.where(i < period, i, 2 * period - 1 - i)


def build_pair(folder: Path, size: int) -> tuple[Path, Path, str]:
    """Write before/after of ``size`` x ``size`` px by mirror-tiling the source pair."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / f"before_{size}.tif", folder / f"after_{size}.tif"
    before, after, origin = _source_pair()
    if all(p.exists() for p in paths):
        return paths[0], paths[1], origin
    profile = dict(
        driver="GTiff", width=size, height=size, count=4, dtype="uint16", crs="EPSG:32610",
        transform=from_origin(600000, 4200000, 10, 10), tiled=True, blockxsize=512,
        blockysize=512, compress="deflate", predictor=2, BIGTIFF="IF_SAFER",
    )  # fmt: skip
    for src, path in zip((before, after), paths):
        tmp = path.with_suffix(".part.tif")
        _, h, w = src.shape
        with rasterio.open(tmp, "w", **profile) as ds:
            ds.descriptions = ("B02", "B03", "B04", "B08")
            for r in range(0, size, BLOCK):
                rows = _mirror_index(r, min(BLOCK, size - r), h)
                for c in range(0, size, BLOCK):
                    cols = _mirror_index(c, min(BLOCK, size - c), w)
                    win = Window(c, r, len(cols), len(rows))
                    ds.write(src[:, rows[:, None], cols[None, :]], window=win)
        os.replace(tmp, path)
    return paths[0], paths[1], origin


def measure(cmd: list[str]) -> dict[str, float]:
    """Run ``cmd`` in a fresh wrapper process; return wall seconds and the child's peak RSS."""
    probe = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter(); r = subprocess.run(sys.argv[1:])\n"
        "dt = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'rc': r.returncode, 'seconds': dt, 'peak_rss_mib': rss}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if res["rc"] != 0:
        raise SystemExit(f"{cmd[0]} failed (exit {res['rc']}): {out.stderr.strip()[-500:]}")
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "sitewatch-bench")
    ap.add_argument("--sizes", default=f"{FULL // 4},{FULL // 2},{FULL}")
    ap.add_argument("--skip-otb", action="store_true")
    ap.add_argument("--otb-ram", type=int, default=256, help="OTB -ram in MB (its default)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    sitewatch = shutil.which("sitewatch", path=str(Path(sys.executable).parent)) or "sitewatch"
    rows = []
    origin = ""
    for size in sizes:
        before, after, origin = build_pair(args.cache, size)
        with tempfile.TemporaryDirectory(dir=args.cache) as td:
            r = measure([sitewatch, "change", str(before), str(after), "--out",
                         f"{td}/mask.tif", "--quiet"])  # fmt: skip
        r.update(tool="sitewatch change", size=size, megapixels=size * size / 1e6)
        r["seconds_per_megapixel"] = r["seconds"] / r["megapixels"]
        rows.append(r)
        print(f"sitewatch {size}: {r['seconds']:.1f} s, {r['peak_rss_mib']:.0f} MiB", flush=True)
    otb = shutil.which("otbcli_MultivariateAlterationDetector")
    if args.skip_otb:
        print("OTB baseline skipped (--skip-otb)")
    elif otb is None:
        print("OTB baseline not run: otbcli_MultivariateAlterationDetector is not installed "
              "(Debian: apt-get install otb-bin); this script installs nothing")  # fmt: skip
    else:
        size = max(sizes)
        before, after, _ = build_pair(args.cache, size)
        with tempfile.TemporaryDirectory(dir=args.cache) as td:
            r = measure([otb, "-in1", str(before), "-in2", str(after), "-out", f"{td}/mad.tif",
                         "-ram", str(args.otb_ram)])  # fmt: skip
        r.update(tool="otbcli_MultivariateAlterationDetector", size=size,
                 megapixels=size * size / 1e6)  # fmt: skip
        rows.append(r)
        print(f"OTB MAD {size}: {r['seconds']:.1f} s, {r['peak_rss_mib']:.0f} MiB", flush=True)
    ours = {r["size"]: r for r in rows if r["tool"] == "sitewatch change"}
    base = next((r for r in rows if r["tool"].startswith("otbcli")), None)
    summary: dict[str, object] = {"source": origin, "cpus": os.cpu_count(), "runs": rows}
    full = ours.get(max(sizes))
    if base and full:
        summary["time_ratio_vs_otb"] = full["seconds"] / base["seconds"]
        summary["rss_ratio_vs_otb"] = full["peak_rss_mib"] / base["peak_rss_mib"]
    if len(ours) > 1:
        # A fixed cost (start-up, the fit on a bounded sample) plus a cost per pixel: fit both
        # by least squares; linear growth means the per-pixel part explains the larger runs.
        mpx = np.array([ours[s]["megapixels"] for s in sorted(ours)])
        sec = np.array([ours[s]["seconds"] for s in sorted(ours)])
        slope, fixed = np.polyfit(mpx, sec, 1)
        summary["fixed_seconds"] = float(fixed)
        summary["seconds_per_megapixel_marginal"] = float(slope)
        summary["max_relative_misfit_of_linear_model"] = float(
            np.max(np.abs(fixed + slope * mpx - sec) / sec)
        )
    print(f"{'tool':40} {'size':>6} {'seconds':>8} {'s/Mpx':>7} {'peak MiB':>9}")
    for r in rows:
        print(f"{r['tool']:40} {r['size']:6d} {r['seconds']:8.1f} "
              f"{r['seconds'] / r['megapixels']:7.3f} {r['peak_rss_mib']:9.0f}")  # fmt: skip
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
