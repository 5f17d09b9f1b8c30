"""Write a rendered report: ``report.html`` and ``chips/<event_id>_{before,after}.png``.

All files appear together or not at all (:func:`sitewatch.io.writers.committed`);
chips of an earlier report that the new one lacks are then removed, so the
folder never shows evidence of events the report no longer cites.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputError
from ..report.html import RenderedReport
from .writers import committed

__all__ = ["REPORT_NAME", "CHIPS_DIR", "ReportFiles", "write_report"]

REPORT_NAME = "report.html"
CHIPS_DIR = "chips"


@dataclass(frozen=True)
class ReportFiles:
    """Where :func:`write_report` put the report and its chips."""

    html: Path
    chips: tuple[Path, ...]


def write_report(out_dir: str | Path, report: RenderedReport) -> ReportFiles:
    """Write ``report`` into ``out_dir`` (which must exist); existing files are replaced.

    Earlier chips (``*_before.png``, ``*_after.png`` in ``chips/``) that ``report``
    does not hold are deleted; other files there are left alone.

    Raises
    ------
    OutputError
        ``out_dir`` is missing, not a folder or not writable.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise OutputError(
            f"out_dir: {out} is not an existing folder; create it (or run sitewatch run) first"
        )
    for name in report.chips:
        if Path(name).name != name or name.startswith("."):
            raise OutputError(
                f"chips: {name!r} is not a plain file name; event ids must not hold path "
                "separators or start with a dot"
            )
    chips_dir = out / CHIPS_DIR
    try:
        chips_dir.mkdir(exist_ok=True)
        with committed() as commit:
            commit.reserve(out / REPORT_NAME).write_text(report.html, encoding="utf-8")
            paths = []
            for name, data in sorted(report.chips.items()):
                final = chips_dir / name
                commit.reserve(final).write_bytes(data)
                paths.append(final)
        for old in chips_dir.glob("*.png"):
            if old.name not in report.chips and old.stem.endswith(("_before", "_after")):
                old.unlink()
    except PermissionError as exc:
        raise OutputError(
            f"out_dir: cannot write the report in {out} ({exc.strerror}); choose a writable folder"
        ) from exc
    return ReportFiles(out / REPORT_NAME, tuple(paths))
