from __future__ import annotations

import os
from pathlib import Path

import pytest

from sitewatch.errors import OutputError
from sitewatch.io.report_io import write_report
from sitewatch.report import RenderedReport


def _report(**chips: bytes) -> RenderedReport:
    return RenderedReport("<html>ok</html>", chips, tuple(chips))


def test_write_report_writes_page_and_chips(tmp_path: Path) -> None:
    files = write_report(tmp_path, _report(**{"e1_before.png": b"b", "e1_after.png": b"a"}))
    assert files.html.read_text(encoding="utf-8") == "<html>ok</html>"
    assert sorted(p.name for p in files.chips) == ["e1_after.png", "e1_before.png"]
    assert (tmp_path / "chips" / "e1_after.png").read_bytes() == b"a"
    assert not [p for p in tmp_path.rglob("*") if ".part" in p.name]
    # a second report replaces the first, and its stale chips, but not other files
    (tmp_path / "chips" / "notes.png").write_bytes(b"n")
    write_report(tmp_path, RenderedReport("<html>2</html>", {"e2_sar_after.png": b"s"}, ()))
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == "<html>2</html>"
    assert sorted(p.name for p in (tmp_path / "chips").iterdir()) == [
        "e2_sar_after.png", "notes.png",
    ]  # fmt: skip


def test_write_report_needs_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is not an existing folder"):
        write_report(tmp_path / "missing", _report())


@pytest.mark.parametrize("name", ["../evil.png", ".hidden.png", "a/b.png"])
def test_write_report_refuses_unsafe_chip_names_and_writes_nothing(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(OutputError, match="not a plain file name"):
        write_report(tmp_path, _report(**{name: b"x"}))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_write_report_in_a_read_only_folder(tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="cannot write the report"):
            write_report(tmp_path, _report(**{"e1_after.png": b"a"}))
    finally:
        tmp_path.chmod(0o755)
