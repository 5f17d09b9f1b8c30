"""Command line: thin Typer commands over the library.

Errors sitewatch raises on purpose (bad input) print one line and exit 2;
anything else is a bug: one line, exit 1, and ``SITEWATCH_DEBUG=1`` shows
the traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import __version__
from .errors import InputError, SitewatchError

app = typer.Typer(
    name="sitewatch",
    help="Watch named sites in satellite image time series: what changed, where, when.",
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
)
err = Console(stderr=True)
out = Console()


@contextmanager
def _progress(label: str, enabled: bool = True) -> Iterator[object]:
    """A rich progress bar on stderr; the callback takes (done, total)."""
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not enabled or not err.is_terminal,  # no bar (nor its blank line) in logs
    )
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update


def _version(value: bool) -> None:
    if value:
        out.print(f"sitewatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """sitewatch: change detection and monitoring of named sites in satellite imagery."""


def _method_help() -> str:
    from .change.registry import method_names

    return (
        "Change method: " + ", ".join(method_names()) + ". Default: the best method for the "
        "sensor (auto for optical, sar-ratio for vv/vh radar)."
    )


@app.command()
def change(
    before: Annotated[Path, typer.Argument(help="First-date image: GeoTIFF, PNG, or band folder.")],
    after: Annotated[Path, typer.Argument(help="Second-date image, same place.")],
    out_path: Annotated[
        Path, typer.Option("--out", "-o", help="Mask to write (.tif or .png): 1 change, 0 none, "
                           "255 not judged.")
    ],  # fmt: skip
    method: Annotated[str | None, typer.Option(help=_method_help())] = None,
    alpha: Annotated[float, typer.Option(help="False-alarm rate of the decision.")] = 0.01,
    bands: Annotated[
        str | None, typer.Option(help="Bands to use, by common name: blue,green,red,nir.")
    ] = None,
    min_area: Annotated[
        str | None,
        typer.Option(help="Minimum mapping unit, in pixels (12) or m² (500m2). Default: method's."),
    ] = None,
    radius: Annotated[
        int | None, typer.Option(help="Morphological clean-up radius in pixels (0: none).")
    ] = None,
    probability: Annotated[
        Path | None, typer.Option(help="Also write 1-p and the p-value as a float32 GeoTIFF.")
    ] = None,
    vector: Annotated[
        Path | None, typer.Option(help="Also write change polygons as GeoJSON (EPSG:4326).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Threads for tiles.")] = min(2, os.cpu_count() or 1),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
) -> None:
    """Detect change between two co-located images and write a change mask."""
    from .io.bands import parse_band_list
    from .pairwise import ChangeOptions, MinArea, change_files

    inputs = {p.resolve() for p in (before, after) if p.exists()}
    outputs = (("--out", out_path), ("--probability", probability), ("--vector", vector))
    for option, target in outputs:
        if target is not None and target.resolve() in inputs:
            # the output would replace the image being read: refuse before touching anything
            raise InputError(f"{option}: {target} is an input image; write to another file")
    options = ChangeOptions(
        method=method,
        alpha=alpha,
        min_area=MinArea.parse(min_area) if min_area is not None else None,
        radius_px=radius,
        workers=workers,
    )
    with _progress("change", enabled=not quiet) as update:
        result = change_files(
            before, after, out_path, options,
            bands=parse_band_list(bands), probability=probability, vector=vector,
            progress=update,  # type: ignore[arg-type]
        )  # fmt: skip
    if not quiet:
        judged = result.n_change + result.n_no_change
        out.print(
            f"{result.change_fraction:.2%} of {judged:,} judged pixels changed "
            f"(method {result.method}, alpha {result.alpha:g}, bands "
            f"{','.join(result.band_names)}; {result.n_not_judged:,} not judged)",
            soft_wrap=True,  # never break a path or a figure across lines
        )
        for kind, path in result.outputs.items():
            out.print(f"  {kind}: {path}", soft_wrap=True)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the demo's outputs.")] = Path(
        "demo-output"
    ),
    seed: Annotated[int, typer.Option(help="Random seed of the simulated scene.")] = 7,
    size: Annotated[int, typer.Option(help="Scene side in pixels (3 m each).")] = 256,
) -> None:
    """Simulate the Sohae launch station (2018-19), run it, assess it, write the report."""
    from .demo import run_demo

    with _progress("demo") as update:
        summary = run_demo(out_dir, seed=seed, size=size, progress=update)  # type: ignore[arg-type]
    for line in summary.lines():
        out.print(line)


@app.command()
def simulate(
    scenario: Annotated[
        str, typer.Argument(help="Scenario: sohae-2019, quiet, cloudy or misregistered.")
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder to write (new or empty).")],
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 7,
    size: Annotated[
        int | None, typer.Option(help="Scene side in pixels (default 512: 1.5 km at 3 m).")
    ] = None,
    pixel_m: Annotated[
        float | None,
        typer.Option(
            "--pixel-m",
            help="Pixel side in metres (default 3; 10 is Sentinel-2's). The site scales "
            "with size x pixel.",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Write into a non-empty folder.")
    ] = False,
    sar: Annotated[
        bool, typer.Option("--sar/--no-sar", help="Also write a 12-day radar series (vv, vh).")
    ] = True,
) -> None:
    """Render a simulated site over a series of dates, with its site file and true events."""
    from .sim.scenarios import build_scenario
    from .sim.write import write_scenario

    sim = build_scenario(scenario, seed=seed, size=size, pixel_m=pixel_m)
    with _progress(f"simulate {scenario}") as update:
        files = write_scenario(
            sim, out_dir, overwrite=overwrite, progress=update, sar=sar  # type: ignore[arg-type]
        )
    out.print(
        f"Scenario {scenario} (seed {seed}): {len(files.images)} dates, "
        f"{files.n_events} true events, written to {files.out_dir}/",
        soft_wrap=True,
    )
    out.print(f"  images: {files.out_dir / 'images'}/", soft_wrap=True)
    out.print(f"  site:   {files.site}", soft_wrap=True)
    out.print(f"  truth:  {files.truth}", soft_wrap=True)
    out.print(f"  params: {files.parameters}", soft_wrap=True)


@app.command()
def run(
    site: Annotated[Path, typer.Argument(help="Site GeoJSON (site polygon, optional zones).")],
    imagery: Annotated[
        str, typer.Argument(help="Folder of dated images, STAC JSON file or STAC API URL.")
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an earlier run in --out.")
    ] = False,
    resolution: Annotated[
        float | None, typer.Option(help="Pixel size in metres (default: finest imagery).")
    ] = None,
    alpha: Annotated[float, typer.Option(help="Per-pixel false-alarm rate.")] = 0.01,
    min_clear: Annotated[
        float, typer.Option("--min-clear", help="Clear share a scene needs to be a reference.")
    ] = 0.3,
    sensors: Annotated[
        str, typer.Option(help="Which scenes to use: all, optical or sar.")
    ] = "all",
    collection: Annotated[
        str | None, typer.Option(help="STAC collection to search (STAC API imagery).")
    ] = None,
    enl: Annotated[
        float | None, typer.Option(help="Radar equivalent number of looks (default: estimated).")
    ] = None,
    sar_scale: Annotated[
        str, typer.Option("--sar-scale", help="Radar values: auto, intensity, amplitude or db.")
    ] = "auto",
    profile: Annotated[
        str | None,
        typer.Option(help="Indicator profile: launch_site, construction, generic or a YAML path "
                     "(default: the site's)."),
    ] = None,
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Skip the assessment and report.html.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
) -> None:
    """Run the whole pipeline on a site: events, zone timeline, change maps, assessment, report."""
    from .evidence import assess_and_report
    from .pipeline import RunOptions, run_site

    options = RunOptions(
        resolution=resolution, alpha=alpha, min_clear=min_clear, overwrite=overwrite,
        collection=collection, sensors=sensors, enl=enl, sar_scale=sar_scale,  # type: ignore[arg-type]
    )  # fmt: skip
    with _progress("run", enabled=not quiet) as update:
        result = run_site(site, imagery, out_dir, options, progress=update)  # type: ignore[arg-type]
    evidence = None if no_report else assess_and_report(result, profile)
    for w in result.warnings:
        err.print(f"warning: {w}", highlight=False, markup=False, soft_wrap=True)
    if quiet:
        return
    used = sum(1 for s in result.scenes if s.status != "skipped")
    out.print(
        f"{result.site.name}: {len(result.events)} events from {used} scenes "
        f"({result.seconds:.1f} s)",
        soft_wrap=True, highlight=False, markup=False,
    )  # fmt: skip
    for (zone, kind), n in sorted(result.events_by().items()):
        out.print(f"  {zone:<22} {kind:<12} {n}", highlight=False, markup=False)
    out.print(f"Outputs in {result.out_dir}/", soft_wrap=True, highlight=False, markup=False)
    for name in ("events.geojson", "timeline.csv", "run.json"):
        out.print(f"  {name}", highlight=False, markup=False)
    out.print("  change/<date>.tif", highlight=False, markup=False)
    if evidence is not None:
        a = evidence.assessment
        for name in sorted(evidence.files):
            out.print(f"  {name}", highlight=False, markup=False)
        out.print(f"Status as of {a.as_of.isoformat()}: {a.status} (score {a.score:.2f})",
                  highlight=False, markup=False)  # fmt: skip


def _usage_errors() -> tuple[type[BaseException], ...]:
    """Exception types of command-line usage errors, from Typer and (if present) click."""
    types: list[type[BaseException]] = [typer.TyperException]
    try:
        import click
    except ImportError:  # pragma: no cover - click is optional since Typer vendors it
        pass
    else:
        types.append(click.ClickException)
    return tuple(types)


def main() -> None:
    """Console-script entry point with sitewatch's error contract."""
    try:
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc:  # a command or callback raised typer.Exit(code)
            sys.exit(rc)
    except SitewatchError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted", highlight=False)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - the last resort must catch everything
        # Usage errors (missing argument, bad option, no command): Typer vendors its own
        # copy of click, whose exceptions derive from typer.TyperException, not click's.
        if isinstance(exc, _usage_errors()):
            show = getattr(exc, "show", None)
            if callable(show):
                show()
            else:
                err.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
            sys.exit(int(getattr(exc, "exit_code", 2)))
        if os.environ.get("SITEWATCH_DEBUG"):
            raise
        msg = str(exc).splitlines()[0] if str(exc) else ""
        err.print(
            f"internal error: {type(exc).__name__}: {msg} (set SITEWATCH_DEBUG=1 for details)",
            highlight=False, markup=False, soft_wrap=True,
        )  # fmt: skip
        sys.exit(1)
