"""The report opens in headless Chromium from a file: no console error, no failed
request, and the map, the timeline and an evidence card are visible.

Uses Debian's ``chromium`` (``.ci/run`` installs it); never downloads a browser.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from reportkit import build_inputs

from sitewatch.io.report_io import write_report
from sitewatch.report import render_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the Python playwright package is not installed (dev extra)"
)
pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)),
    reason=f"{CHROMIUM} not found: install Debian's chromium (.ci/run does) to run browser tests",
)


@pytest.fixture(scope="module")
def browser() -> Any:
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except sync_api.Error as exc:
            pytest.skip(f"{CHROMIUM} would not start under playwright: {str(exc).splitlines()[0]}")
        yield b
        b.close()


def _visible_box(page: Any, selector: str) -> dict[str, float]:
    el = page.locator(selector).first
    assert el.is_visible(), f"{selector} is not visible"
    box = el.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0, f"{selector}: {box}"
    return box


@pytest.mark.parametrize("radar", [False, True], ids=["optical", "optical+radar"])
def test_report_renders_in_chromium(browser: Any, tmp_path: Path, radar: bool) -> None:
    files = write_report(tmp_path, render_report(build_inputs(radar=radar)))
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    failed: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda r: failed.append(r.url[:80]))
    page.goto(files.html.as_uri(), wait_until="load")
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

    assert errors == []
    assert failed == []
    selectors = ["#status", "#map img", "#timeline img", ".card .chip-before img",
                 ".card .chip-after img"]  # fmt: skip
    if radar:
        selectors += [".card .chip-sar.chip-before img", ".card .chip-sar.chip-after img"]
    for selector in selectors:
        _visible_box(page, selector)
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth)")
    # map, timeline, two cards of two chips (and as many radar chips beside them)
    assert len(widths) == 2 + 2 * 2 * (2 if radar else 1)
    assert all(w and w > 0 for w in widths), widths
    assert page.locator(".card").count() == 2
    assert (tmp_path / "report.png").stat().st_size > 0
    page.close()
