"""Calibration and cost of the SAR omnibus test (``sitewatch.change.omnibus``).

(a) Calibration: simulated no-change gamma series (unit mean, ENL looks,
    independent bands) for k = 2, 5, 10, 20 dates, ENL 4.4 and 10, single and
    dual polarisation; the observed per-pixel false-alarm rate of the overall
    omnibus test, of one step ``R_j`` (averaged over j), of the sequential
    first-change decision, and of the per-date test ``sitewatch run`` applies
    (``run``: each date against the pooled history, with the 3 x 3 median
    vote), at alpha = 0.01 and 0.001, as a ratio to alpha with its binomial
    standard error.  Target: 0.8..1.2.
(b) Cost: the omnibus test over 20 dates of a 2000 x 2000 dual-polarisation
    float32 stack (with a change in a tenth of it), in a child process: wall
    time of the test and the child's peak RSS (inputs included).  Baseline in
    the same run: a plain vectorised numpy/scipy implementation of the same
    p-values (overall and steps; first change without restarts) over the whole
    stack at once, against the omnibus test on the same stack, at
    ``--baseline-size`` (default 1000 x 1000: at 2000 x 2000 the baseline
    needs about 11 GiB).  Target: < 30 s and < 2 GiB.

    .venv/bin/python benchmarks/sar_omnibus.py [--pixels 1000000] [--baseline-size 1000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

import numpy as np
from scipy import stats

from sitewatch.change.omnibus import omnibus_rho_omega2, omnibus_test, step_rho_omega2
from sitewatch.timeline.sar_series import SarReference

DATES = (2, 5, 10, 20)
ENLS = (4.4, 10.0)
ALPHAS = (0.01, 0.001)
CHUNK = 250_000
COST_SIZE = 2000
COST_DATES = 20


def _sequential_alarms(x: np.ndarray, enl: float, alpha: float) -> int:
    """Alarms of the per-date test ``sitewatch run`` uses (pooled history, 3x3 vote)."""
    k, bands, _, n = x.shape
    side = int(math.isqrt(n))
    imgs = x[..., : side * side].reshape(k, bands, side, side)
    ref = SarReference.empty(bands, (side, side), (enl,) * bands)
    valid = np.ones((side, side), bool)
    hold = np.zeros((side, side), bool)
    alarms = 0
    for t in range(k):
        if t:
            alarms += int((ref.compare(imgs[t], valid) < alpha).sum())
        ref = ref.update(imgs[t], valid, hold)
    # scale to the n pixels the other columns count
    return round(alarms * n / (side * side))


def calibration(pixels: int, seed: int) -> list[dict[str, object]]:
    """False-alarm rates on no-change series, one row per configuration and alpha."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for bands in (1, 2):
        for enl in ENLS:
            for k in DATES:
                counts = {
                    a: {"overall": 0, "step": 0, "first_change": 0, "sequential": 0}
                    for a in ALPHAS
                }
                steps_tested = 0
                done = 0
                while done < pixels:
                    n = min(CHUNK, pixels - done)
                    x = rng.standard_gamma(enl, size=(k, bands, 1, n), dtype=np.float32)
                    x /= np.float32(enl)
                    for a in ALPHAS:
                        res = omnibus_test(x, enl, alpha=a)
                        counts[a]["overall"] += int((res.p_value < a).sum())
                        counts[a]["step"] += int((res.step_p_values < a).sum())
                        counts[a]["first_change"] += int((res.first_change >= 0).sum())
                        counts[a]["sequential"] += _sequential_alarms(x, enl, a)
                    steps_tested += n * (k - 1)
                    done += n
                for a in ALPHAS:
                    se = math.sqrt(a * (1 - a) / pixels) / a
                    se_step = math.sqrt(a * (1 - a) / steps_tested) / a
                    c = counts[a]
                    rows.append(
                        {
                            "pol": "dual" if bands == 2 else "single",
                            "enl": enl,
                            "k": k,
                            "alpha": a,
                            "pixels": pixels,
                            "overall_ratio": c["overall"] / pixels / a,
                            "step_ratio": c["step"] / steps_tested / a,
                            "first_change_ratio": c["first_change"] / pixels / a,
                            "run_sequential_ratio": c["sequential"] / steps_tested / a,
                            "ratio_se": se,
                            "step_ratio_se": se_step,
                        }
                    )
                print(f"  calibrated {bands} band(s), ENL {enl}, k {k}", file=sys.stderr)
    return rows


def cost_stack(seed: int, size: int) -> np.ndarray:
    """20 dates of a ``size`` x ``size`` dual-pol float32 stack; a tenth changes at date 10."""
    rng = np.random.default_rng(seed)
    enl = 4.4
    stack = np.empty((COST_DATES, 2, size, size), np.float32)
    for j in range(COST_DATES):
        stack[j] = rng.standard_gamma(enl, size=stack.shape[1:], dtype=np.float32)
        stack[j] *= np.float32(0.05 / enl)
    stack[10:, :, : size // 10] *= np.float32(8.0)
    return stack


def naive(stack: np.ndarray, enl: float, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Overall and step p-values, first change (no restarts), whole-stack arrays: the baseline."""
    k, nb = stack.shape[:2]
    x = stack.astype(np.float64)
    lx = np.log(x)
    j = np.arange(1, k + 1, dtype=np.float64).reshape(k, 1, 1, 1)
    cum_mean = np.cumsum(x, axis=0) / j
    ln_mean = np.log(cum_mean)
    rho_q, w_q = omnibus_rho_omega2(k, enl)
    ln_q = lx.sum(axis=0) - k * ln_mean[-1]
    z = (-2.0 * rho_q * enl * ln_q).sum(axis=0)
    f = nb * (k - 1)
    p_all = stats.chi2.sf(z, f) + nb * w_q * (stats.chi2.sf(z, f + 4) - stats.chi2.sf(z, f))
    m = j[:-1]
    ln_r = m * ln_mean[:-1] + lx[1:] - (m + 1) * ln_mean[1:]
    rho_r, w_r = step_rho_omega2(m, enl)
    zr = (-2.0 * rho_r * enl * ln_r).sum(axis=1)
    w = nb * w_r[:, 0]
    p_steps = stats.chi2.sf(zr, nb) + w * (stats.chi2.sf(zr, nb + 4) - stats.chi2.sf(zr, nb))
    first = np.where(p_all < alpha, np.argmax(p_steps < alpha, axis=0) + 1, -1)
    first[(p_all < alpha) & ~(p_steps < alpha).any(axis=0)] = -1
    return p_all.astype(np.float32), p_steps.astype(np.float32), first


def worker(kind: str, seed: int, size: int) -> None:
    """Build the stack, time one implementation, print JSON (run in a child process)."""
    stack = cost_stack(seed, size)
    rss_inputs = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    if kind == "omnibus":
        res = omnibus_test(stack, 4.4, alpha=0.01)
        found = float((res.first_change[: size // 10] == 10).mean())
    else:
        first = naive(stack, 4.4, 0.01)[2]
        found = float((first[: size // 10] == 10).mean())
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {
        "size": size,
        "seconds": seconds,
        "peak_rss_mib": peak,
        "rss_after_inputs_mib": rss_inputs,
        "input_mib": stack.nbytes / 2**20,
        "changed_found_at_date_10": found,
    }
    print(json.dumps(out))


def run_worker(kind: str, seed: int, size: int) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--worker", kind, "--seed", str(seed), "--size", str(size)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    res: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pixels", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--baseline-size", type=int, default=1000)
    ap.add_argument("--size", type=int, default=COST_SIZE, help=argparse.SUPPRESS)
    ap.add_argument("--skip-calibration", action="store_true")
    ap.add_argument("--worker", choices=("omnibus", "naive"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.seed, args.size)
        return

    load = os.getloadavg()[0]
    summary: dict[str, object] = {"cpus": os.cpu_count(), "load_avg_1min_at_start": load}
    if not args.skip_calibration:
        t0 = time.perf_counter()
        summary["calibration"] = calibration(args.pixels, args.seed)
        summary["calibration_seconds"] = time.perf_counter() - t0
    cost = {"omnibus": run_worker("omnibus", args.seed, COST_SIZE)}
    if not args.skip_baseline:
        b = args.baseline_size
        cost[f"omnibus_{b}"] = run_worker("omnibus", args.seed, b)
        cost[f"naive_numpy_{b}"] = run_worker("naive", args.seed, b)
    summary["cost"] = cost
    summary["load_avg_1min_at_end"] = os.getloadavg()[0]

    print(json.dumps(summary, indent=1))
    if "calibration" in summary:
        print(f"\n{'pol':6} {'ENL':>4} {'k':>3} {'alpha':>6} {'overall':>8} {'step':>6} "
              f"{'first':>6} {'run':>6} {'+-se':>6}")  # fmt: skip
        for r in summary["calibration"]:  # type: ignore[attr-defined]
            print(
                f"{r['pol']:6} {r['enl']:4.1f} {r['k']:3d} {r['alpha']:6.3f} "
                f"{r['overall_ratio']:8.3f} {r['step_ratio']:6.3f} "
                f"{r['first_change_ratio']:6.3f} {r['run_sequential_ratio']:6.3f} "
                f"{r['ratio_se']:6.3f}"
            )
    print(f"\n{'implementation':20} {'size':>5} {'seconds':>8} {'peak MiB':>9}")
    for name, r in cost.items():
        if "error" in r:
            print(f"{name:20} failed: {r['error']}")
        else:
            print(f"{name:20} {r['size']:5d} {r['seconds']:8.1f} {r['peak_rss_mib']:9.0f}")
    if not args.skip_baseline:
        om, nv = cost[f"omnibus_{b}"], cost[f"naive_numpy_{b}"]
        if "seconds" in om and "seconds" in nv:
            print(
                f"omnibus / naive at {b}: time {om['seconds'] / nv['seconds']:.2f}, "  # type: ignore[operator]
                f"peak RSS {om['peak_rss_mib'] / nv['peak_rss_mib']:.2f}"  # type: ignore[operator]
            )


if __name__ == "__main__":
    main()
