"""After a run: the assessment, the analyst's report and ``results.json`` (a STAC
ItemCollection of the outputs), written into the run's folder.

:func:`assess_and_report` evaluates the site's indicator profile on a
:class:`~sitewatch.pipeline.RunResult` (``assessment.json``, ``status.csv``) and
renders ``report.html`` with its evidence chips, optical and radar
(:func:`report_inputs`).  Each file is written
atomically; the run's own outputs are already committed by then.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .assess import evaluate, load_profile
from .errors import InputError
from .io.assessment import write_assessment
from .io.report_io import write_report
from .io.results_stac import write_results
from .models import Assessment
from .pipeline import RunResult
from .report import ImageSeries, RadarSeries, ReportInputs, SceneRecord, render_report

__all__ = ["Evidence", "assess_and_report", "report_inputs"]


@dataclass(frozen=True)
class Evidence:
    """The assessment and where its files went."""

    assessment: Assessment
    files: dict[str, Path]


def assess_and_report(
    result: RunResult, profile: str | Path | None = None, report: bool = True
) -> Evidence:
    """Assess ``result`` with ``profile`` (default: the site's own) and write the report.

    Raises
    ------
    ProfileError
        The profile is invalid or names zones the site lacks.
    InputError
        The run tested no date (nothing to assess).
    """
    prof = load_profile(profile or result.site.profile or "generic")
    dates = [r.date for r in result.scenes if r.status != "skipped"]
    if not dates:
        raise InputError(f"run in {result.out_dir}: no scene was used; nothing to assess")
    assessment = evaluate(prof, result.site, result.events, result.timeline, dates)
    files = dict(write_assessment(result.out_dir, assessment))
    if report and (result.series is not None or result.radar is not None):
        written = write_report(result.out_dir, render_report(report_inputs(result, assessment)))
        files["report.html"] = written.html
    used = [(r.date, r.id, r.sensor, r.source) for r in result.scenes if r.status != "skipped"]
    files["results.json"] = write_results(
        result.out_dir, result.site, used, {**result.outputs, **files}
    )
    return Evidence(assessment, files)


def report_inputs(result: RunResult, assessment: Assessment) -> ReportInputs:
    """What the report draws of ``result``: its optical and radar series, every scene of the run.

    Raises
    ------
    InputError
        The run kept neither an optical nor a radar series.
    """
    series, radar = result.series, result.radar
    return ReportInputs(
        result.site, result.grid, assessment, tuple(result.events), tuple(result.timeline),
        tuple(
            SceneRecord(r.date, r.id, r.clear_fraction, r.shift_px, r.residual_px, r.status,
                        r.sensor)
            for r in result.scenes
        ),
        None if series is None
        else ImageSeries(series.dates, series.bands, series.data, valid=series.valid),
        None if radar is None
        else RadarSeries(radar.dates, radar.bands, radar.data, radar.valid, radar.scene_ids),
    )  # fmt: skip
