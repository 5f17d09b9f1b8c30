"""After a run: the assessment and the analyst's report, written into the run's folder.

:func:`assess_and_report` evaluates the site's indicator profile on a
:class:`~sitewatch.pipeline.RunResult` (``assessment.json``, ``status.csv``) and
renders ``report.html`` with its evidence chips.  Each file is written
atomically; the run's own outputs are already committed by then.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .assess import evaluate, load_profile
from .errors import InputError
from .io.assessment import write_assessment
from .io.report_io import write_report
from .models import Assessment
from .pipeline import RunResult
from .report import ImageSeries, ReportInputs, SceneRecord, render_report

__all__ = ["Evidence", "assess_and_report"]


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
    series = result.series
    if report and series is not None:
        inputs = ReportInputs(
            result.site, result.grid, assessment, tuple(result.events), tuple(result.timeline),
            tuple(
                SceneRecord(r.date, r.id, r.clear_fraction, r.shift_px, r.residual_px, r.status)
                for r in result.scenes if r.sensor == "optical"
            ),
            ImageSeries(series.dates, series.bands, series.data, valid=series.clear),
        )  # fmt: skip
        written = write_report(result.out_dir, render_report(inputs))
        files["report.html"] = written.html
    return Evidence(assessment, files)
