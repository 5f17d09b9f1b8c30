"""The command line: success paths, and the error contract of ``sitewatch.cli.main``.

Bad input: one line on stderr naming what and how to fix, exit code 2, and no
output (not even a hidden temporary file) left in the output folder.  Internal
errors: one line, exit code 1.  The runner (``typer.testing.CliRunner``)
exercises the commands; ``main()`` in-process and a real ``python -m
sitewatch`` subprocess exercise the contract, which lives in ``main()``.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterkit import TEST_METHOD, listing, make_pair, textured, utm_transform, write_tif
from typer.testing import CliRunner

import sitewatch
from sitewatch import cli
from sitewatch.change.registry import register
from sitewatch.errors import (
    BandMismatchError,
    InputError,
    MissingFileError,
    NoOverlapError,
    NoValidDataError,
    OutputError,
    RasterReadError,
    SitewatchError,
    UnknownMethodError,
)

runner = CliRunner()
REAL_METHODS = ("auto", "cva", "irmad")


def real_method() -> str | None:
    """A real optical method that imports, for subprocess runs (test-diff lives in-process)."""
    for name in REAL_METHODS:
        try:
            importlib.import_module(f"sitewatch.change.{name}")
        except Exception:  # missing, or not importable yet (being written)
            continue
        return name
    return None


def run_main(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    """Call ``cli.main()`` as the console script would; return (code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["sitewatch", *args])
    monkeypatch.delenv("SITEWATCH_DEBUG", raising=False)
    with pytest.raises(SystemExit) as info:
        cli.main()
        raise SystemExit(0)  # main() returned normally
    out, err = capsys.readouterr()
    code = info.value.code
    return (0 if code is None else int(code)), out, err


def run_module(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SITEWATCH_DEBUG"}
    env["COLUMNS"] = "60"  # a narrow terminal must not wrap the message
    return subprocess.run(
        [sys.executable, "-m", "sitewatch", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def assert_one_line_error(stderr: str, pattern: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith("error: ")
    assert re.search(pattern, lines[0]), f"{pattern!r} not in {lines[0]!r}"


# --------------------------------------------------------------------------- bad input


@dataclass
class Case:
    """A bad-input scenario: the arguments, the error it must raise and its message."""

    args: list[str]
    error: type[SitewatchError]
    pattern: str
    needs_method: bool = False  # the error surfaces only once a method has been chosen


def _truncated(path: Path) -> Path:
    rng = np.random.default_rng(0)
    write_tif(
        path, rng.integers(0, 4000, (3, 512, 512)).astype("uint16"), tiled=True, compress="deflate"
    )
    size = path.stat().st_size
    os.truncate(path, size // 2)
    with rasterio.open(path) as ds:  # the header survived: the failure comes while reading
        assert ds.shape == (512, 512)
    return path


def _case(name: str, tmp: Path) -> Case:
    src, out = tmp / "in", tmp / "out"
    src.mkdir(exist_ok=True)
    mask = str(out / "mask.tif")
    good = make_pair(src)
    b, a = str(good.before), str(good.after)
    if name == "missing-file":
        return Case(
            ["change", b, str(src / "missing.tif"), "--out", mask],
            MissingFileError,
            r"missing\.tif: no such file or folder; check the path",
        )
    if name == "not-a-raster":
        (src / "notes.tif").write_text("a text file, not an image\n")
        return Case(
            ["change", str(src / "notes.tif"), a, "--out", mask],
            RasterReadError,
            r"notes\.tif: not a readable raster .*give a GeoTIFF",
        )
    if name == "truncated":
        cut = _truncated(src / "cut.tif")
        data = textured((3, 512, 512)).astype("uint16")
        whole = write_tif(src / "whole.tif", data, tiled=True, compress="deflate")
        return Case(
            ["change", str(cut), str(whole), "--out", mask],
            RasterReadError,
            r"cut\.tif: read failed at rows .*truncated or corrupt, re-export it",
            needs_method=True,
        )
    if name == "no-overlap":
        far = write_tif(
            src / "far.tif",
            textured((3, 96, 96)).astype("uint16"),
            transform=utm_transform(x0=600_000.0),
        )
        return Case(
            ["change", b, str(far), "--out", mask],
            NoOverlapError,
            r"does not overlap BEFORE .*give two images of the same place",
        )
    if name == "band-count":
        two = write_tif(src / "two.tif", textured((2, 96, 96)).astype("uint16"))
        return Case(
            ["change", b, str(two), "--out", mask],
            BandMismatchError,
            r"BEFORE has 3 bands and AFTER has 2, with no band names.*--bands",
        )
    if name == "all-nodata":
        empty = write_tif(src / "empty.tif", np.zeros((3, 96, 96), "uint16"), nodata=0)
        return Case(
            ["change", b, str(empty), "--out", mask],
            NoValidDataError,
            r"AFTER .*empty\.tif holds only nodata where the images overlap; check",
            needs_method=True,
        )
    if name == "constant":
        flat = write_tif(src / "flat.tif", np.full((3, 96, 96), 1234, "uint16"))
        return Case(
            ["change", str(flat), a, "--out", mask],
            NoValidDataError,
            r"BEFORE .*flat\.tif is constant .*check the file is the right image",
            needs_method=True,
        )
    if name == "unknown-method":
        return Case(
            ["change", b, a, "--out", mask, "--method", "magic"],
            UnknownMethodError,
            r"--method: 'magic' is not a change method; choose one of: auto, irmad",
        )
    if name.startswith("alpha="):
        return Case(
            ["change", b, a, "--out", mask, "--alpha", name[6:]],  # "-0.5" is a value
            InputError,
            r"--alpha: .* is not a false-alarm rate; give a value strictly between 0 and 1",
        )
    if name == "out-folder-missing":
        return Case(
            ["change", b, a, "--out", str(out / "nowhere" / "mask.tif")],
            OutputError,
            r"--out: folder .*nowhere does not exist; create it first",
        )
    if name == "out-format":
        return Case(
            ["change", b, a, "--out", str(out / "mask.jpg")],
            OutputError,
            r"--out: mask\.jpg should end in \.tif or \.png",
        )
    if name == "out-is-input":
        return Case(
            ["change", b, a, "--out", a],
            InputError,
            r"--out: .*after\.tif is an input image; write to another file",
        )
    if name == "negative-radius":
        return Case(
            ["change", b, a, "--out", mask, "--radius", "-2"],
            InputError,
            r"--radius: -2 is negative; give 0 or more pixels",
        )
    if name == "unknown-band":
        return Case(
            ["change", b, a, "--out", mask, "--bands", "red,purple"],
            InputError,
            r"--bands: 'purple' is not a band name; use common names",
        )
    if name == "band-not-in-image":
        return Case(
            ["change", b, a, "--out", mask, "--bands", "red,nir"],
            BandMismatchError,
            r"carries no band names, so red, nir cannot be found",
        )
    if name == "bad-min-area":
        return Case(
            ["change", b, a, "--out", mask, "--min-area", "3 acres"],
            InputError,
            r"--min-area: '3 acres' is not an area",
        )
    if name == "probability-not-tif":
        return Case(
            ["change", b, a, "--out", mask, "--probability", str(out / "p.png")],
            InputError,
            r"--probability: p\.png should end in \.tif",
        )
    raise AssertionError(name)


CASES = [
    "missing-file",
    "not-a-raster",
    "truncated",
    "no-overlap",
    "band-count",
    "all-nodata",
    "constant",
    "unknown-method",
    "alpha=0",
    "alpha=1",
    "alpha=-0.5",
    "alpha=2",
    "out-folder-missing",
    "out-format",
    "out-is-input",
    "negative-radius",
    "unknown-band",
    "band-not-in-image",
    "bad-min-area",
    "probability-not-tif",
]


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def _with_test_method(case: Case) -> list[str]:
    if "--method" in case.args:
        return case.args
    return [*case.args, "--method", "test-diff"]


@pytest.mark.parametrize("name", CASES)
def test_bad_input_runner_raises_the_named_error(tmp_path: Path, name: str) -> None:
    case = _case(name, tmp_path)
    (tmp_path / "out").mkdir()
    result = runner.invoke(cli.app, _with_test_method(case))
    assert isinstance(result.exception, case.error), result.output
    assert listing(tmp_path / "out") == []


@pytest.mark.parametrize("name", CASES)
def test_bad_input_main_one_line_exit_2_no_output(
    tmp_path: Path, name: str, monkeypatch, capsys
) -> None:
    case = _case(name, tmp_path)
    (tmp_path / "out").mkdir()
    inputs = _snapshot(tmp_path / "in")
    code, out, err = run_main(_with_test_method(case), monkeypatch, capsys)
    assert code == 2
    assert_one_line_error(err, case.pattern)
    assert out == ""
    assert listing(tmp_path / "out") == []  # no mask, no hidden .mask.*.part.tif
    assert _snapshot(tmp_path / "in") == inputs  # and no input touched


# The real entry point costs a Python start-up (about a second) per run, so it runs a
# representative subset, all started at once: failing before any pixel is read, failing
# while reading (a truncated file, after a method was chosen), and on a value Click must
# not mistake for an option (a negative alpha).  main() in-process covers every case.
ENTRY_POINT_CASES = ["missing-file", "truncated", "alpha=-0.5"]


@pytest.fixture(scope="module")
def entry_point_runs(tmp_path_factory) -> dict[str, tuple[Case, Path, subprocess.Popen]]:
    env = {k: v for k, v in os.environ.items() if k != "SITEWATCH_DEBUG"}
    env["COLUMNS"] = "60"  # a narrow terminal must not wrap the message
    method = real_method()
    runs = {}
    for name in ENTRY_POINT_CASES:
        tmp = tmp_path_factory.mktemp(name.replace("=", "_"))
        case = _case(name, tmp)
        (tmp / "out").mkdir()
        args = case.args
        if case.needs_method:
            if method is None:
                continue
            args = [*args, "--method", method]
        proc = subprocess.Popen(
            [sys.executable, "-m", "sitewatch", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp,
            env=env,
        )
        runs[name] = (case, tmp, proc)
    yield runs
    for _, _, proc in runs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("name", ENTRY_POINT_CASES)
def test_bad_input_real_entry_point(entry_point_runs, name: str) -> None:
    if name not in entry_point_runs:
        pytest.skip("no real change method (auto, cva, irmad) is importable yet")
    case, tmp, proc = entry_point_runs[name]
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 2, stderr
    assert_one_line_error(stderr, case.pattern)
    assert stdout == ""
    assert listing(tmp / "out") == []


def test_failed_run_leaves_an_existing_output_untouched(tmp_path: Path, monkeypatch, capsys):
    case = _case("constant", tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mask.tif").write_bytes(b"yesterday's mask")
    (out / "changes.geojson").write_text("{}")
    args = [
        *_with_test_method(case),
        "--vector",
        str(out / "changes.geojson"),
        "--probability",
        str(out / "p.tif"),
    ]
    code, _, err = run_main(args, monkeypatch, capsys)
    assert code == 2 and "is constant" in err
    assert listing(out) == ["changes.geojson", "mask.tif"]
    assert (out / "mask.tif").read_bytes() == b"yesterday's mask"
    assert (out / "changes.geojson").read_text() == "{}"


# --------------------------------------------------------------------------- internal errors


class _Broken(type(TEST_METHOD)):
    name = "test-broken"

    def fit(self, sample):
        raise ZeroDivisionError("the method has a bug\nsecond line of detail")


def test_internal_error_is_one_line_exit_1(pair, out_dir, monkeypatch, capsys) -> None:
    register(_Broken())
    args = [
        "change",
        str(pair.before),
        str(pair.after),
        "--out",
        str(out_dir / "m.tif"),
        "--method",
        "test-broken",
    ]
    code, _, err = run_main(args, monkeypatch, capsys)
    assert code == 1
    lines = err.splitlines()
    assert lines == [
        "internal error: ZeroDivisionError: the method has a bug (set SITEWATCH_DEBUG=1 for "
        "details)"
    ]
    assert listing(out_dir) == []


def test_internal_error_traceback_with_debug(pair, out_dir, monkeypatch) -> None:
    register(_Broken())
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "sitewatch",
            "change",
            str(pair.before),
            str(pair.after),
            "--out",
            str(out_dir / "m.tif"),
            "--method",
            "test-broken",
        ],
    )
    monkeypatch.setenv("SITEWATCH_DEBUG", "1")
    with pytest.raises(ZeroDivisionError, match="the method has a bug"):
        cli.main()
    assert listing(out_dir) == []


# --------------------------------------------------------------------------- usage


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["change"], r"Missing argument"),
        (["change", "a.tif", "b.tif"], r"Missing option '--out'"),
        (["change", "a.tif", "b.tif", "--out", "m.tif", "--alpha", "lots"], r"--alpha"),
        (["frobnicate"], r"No such command 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2(args: list[str], pattern: str, monkeypatch, capsys) -> None:
    code, _, err = run_main(args, monkeypatch, capsys)
    assert code == 2
    assert re.search(pattern, err)
    assert "internal error" not in err


@pytest.mark.parametrize("args", [["--help"], ["change", "--help"], ["demo", "--help"]])
def test_help_runner(args: list[str]) -> None:
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    if args[0] == "change":
        for option in (
            "--out",
            "--method",
            "--alpha",
            "--bands",
            "--min-area",
            "--probability",
            "--vector",
        ):
            assert option in result.output
        assert "test-diff" in result.output  # the method list comes from the registry
    if args[0] == "demo":
        assert "--out" in result.output and "--seed" in result.output


@pytest.mark.parametrize("args", [["--help"], ["change", "--help"], ["demo", "--help"]])
def test_help_main(args: list[str], monkeypatch, capsys) -> None:
    code, out, err = run_main(args, monkeypatch, capsys)
    assert code == 0 and "Usage" in out and err == ""


def test_version(monkeypatch, capsys) -> None:
    code, out, _ = run_main(["--version"], monkeypatch, capsys)
    assert code == 0 and out.strip() == f"sitewatch {sitewatch.__version__}"


def test_no_arguments_shows_help(monkeypatch, capsys) -> None:
    code, out, err = run_main([], monkeypatch, capsys)
    assert code in (0, 2)  # click's convention for a bare group
    assert "change" in out + err and "internal error" not in err


# --------------------------------------------------------------------------- success


def test_change_writes_outputs_and_prints_a_summary(pair, out_dir) -> None:
    args = [
        "change",
        str(pair.before),
        str(pair.after),
        "--out",
        str(out_dir / "m.tif"),
        "--method",
        "test-diff",
        "--probability",
        str(out_dir / "p.tif"),
        "--vector",
        str(out_dir / "v.geojson"),
        "--alpha",
        "0.001",
    ]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert listing(out_dir) == ["m.tif", "p.tif", "v.geojson"]
    assert "judged pixels changed (method test-diff, alpha 0.001" in result.output
    assert "mask: " in result.output and "vector: " in result.output
    with rasterio.open(out_dir / "m.tif") as ds:
        mask = ds.read(1)
    assert (mask[pair.truth == 1] == 1).all()
    fc = json.loads((out_dir / "v.geojson").read_text())
    assert fc["sitewatch"]["method"] == "test-diff" and fc["sitewatch"]["alpha"] == 0.001
    assert fc["features"]


def test_change_through_main_quiet(pair, out_dir, monkeypatch, capsys) -> None:
    args = [
        "change",
        str(pair.before),
        str(pair.after),
        "-o",
        str(out_dir / "m.tif"),
        "--method",
        "test-diff",
        "--quiet",
        "--workers",
        "1",
    ]
    code, out, err = run_main(args, monkeypatch, capsys)
    assert (code, out, err) == (0, "", "")
    assert listing(out_dir) == ["m.tif"]


def test_change_options_reach_the_driver(pair, out_dir) -> None:
    args = [
        "change",
        str(pair.before),
        str(pair.after),
        "--out",
        str(out_dir / "m.tif"),
        "--method",
        "test-diff",
        "--min-area",
        "2000m2",
        "--radius",
        "1",
        "--bands",
        "band1,band3",
    ]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert "bands band1,band3" in result.output
    with rasterio.open(out_dir / "m.tif") as ds:
        mask = ds.read(1)
    # 2000 m2 = 20 px of 10 m: the speckle is gone, the implanted change stays.
    assert (mask[pair.truth == 1] == 1).mean() > 0.95
    assert (mask[pair.truth == 0] == 1).sum() < 100


def test_change_pixel_space_png(tmp_path: Path, out_dir) -> None:
    p = make_pair(tmp_path / "in", dtype="uint8", crs=None, suffix=".png")
    args = [
        "change",
        str(p.before),
        str(p.after),
        "--out",
        str(out_dir / "m.png"),
        "--method",
        "test-diff",
        "--vector",
        str(out_dir / "v.geojson"),
    ]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert listing(out_dir) == ["m.png", "v.geojson"]
    assert json.loads((out_dir / "v.geojson").read_text())["coordinate_space"] == "pixel"


def test_change_via_real_entry_point(pair, out_dir) -> None:
    method = real_method()
    if method is None:
        pytest.skip("no real change method (auto, cva, irmad) is importable yet")
    proc = run_module(
        [
            "change",
            str(pair.before),
            str(pair.after),
            "--out",
            str(out_dir / "m.tif"),
            "--method",
            method,
        ],
        cwd=out_dir.parent,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no progress bar noise when stderr is not a terminal
    assert listing(out_dir) == ["m.tif"]
    assert f"method {method}" in proc.stdout
