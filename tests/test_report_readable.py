"""Reports a planner can hand on (issue 17): the 405B training report and a serving report opened in
Chromium: an answer paragraph first, no raw key with a unit suffix as a label, one unit per axis, file
sizes within budget, and the PDF's first page is the executive summary. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = REPO / "test-artifacts"
RAW_SUFFIX = re.compile(r"(_s|_j|_w|_usd|_kg|_frac|_bytes|_flop|_per_s)$|(?:^|\s)(s|j|w|usd|kg|frac|bytes)$")
HTML_BUDGET_BYTES = 6_000_000
PDF_BUDGET_BYTES = 2_000_000


def _chromium() -> str | None:
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    return exe if Path(exe).exists() else None


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = {}
    d = tmp_path_factory.mktemp("reports")
    # the 405B pre-training scenario as shipped (54 days of 1-minute buckets, 3 variants), fewer replicates
    p = run_cli("run", "scenarios/llama3-405b-pretraining.yaml", "--out", str(d / "train"), "--set", "simulation.replicates=3",
                timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    out["train"] = d / "train"
    p = run_cli("run", "scenarios/small-vs-large.yaml", "--out", str(d / "serve"), timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    out["serve"] = d / "serve"
    return out


@pytest.mark.parametrize("which", ["train", "serve"])
def test_report_reads_in_a_browser(reports, which):
    exe = _chromium()
    if exe is None:
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    html = reports[which] / "report.html"
    assert html.stat().st_size <= HTML_BUDGET_BYTES, f"{which} report.html is {html.stat().st_size / 1e6:.1f} MB"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"], headless=True)
        pg = b.new_page(viewport={"width": 1280, "height": 1800})
        pg.goto(html.as_uri())
        pg.wait_for_function("document.querySelectorAll('.plotly-graph-div .main-svg').length > 0", timeout=60_000)
        # the answer comes first: a conclusion paragraph before the headline table
        answer = pg.locator(".answer p").first.inner_text()
        assert answer.startswith(("Training", "Serving", "base:", "Across the")) and len(answer) > 60, answer
        order = pg.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
        assert order[0] == "Answer" and order[1] == "Headline numbers", order
        # labels are words, not keys: no underscore, no trailing unit suffix
        labels = pg.evaluate("[...document.querySelectorAll('table')].slice(0, 2).flatMap(t => "
                             "[...t.querySelectorAll('tr td:first-child')].map(td => td.textContent))")
        assert labels
        bad = [x for x in labels if "_" in x or RAW_SUFFIX.search(x.split(":")[-1].strip().split(" (")[0])]
        assert not bad, bad
        # one unit per axis: every drawn y axis has a title, and no title names two units
        titles = pg.evaluate("""[...document.querySelectorAll('.plotly-graph-div')].flatMap(gd =>
            Object.keys(gd.layout).filter(k => k.startsWith('yaxis') && gd.layout[k].visible !== false)
                .map(k => (gd.layout[k].title || {}).text || ''))""")
        assert titles and all(t for t in titles), titles
        assert not [t for t in titles if " and " in t or "/" in t and "," in t], titles
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"report-{which}.png"), full_page=False)
        b.close()


def test_pdf_first_page_is_the_executive_summary(reports):
    pdf = reports["train"] / "report.pdf"
    if not pdf.exists():
        pytest.skip("no report.pdf (no headless Chromium)")
    assert pdf.stat().st_size <= PDF_BUDGET_BYTES, f"report.pdf is {pdf.stat().st_size / 1e6:.1f} MB"
    import pypdf

    r = pypdf.PdfReader(str(pdf))
    first = r.pages[0].extract_text()
    assert "Answer" in first and "Headline numbers" in first and "Training llama-3.1-405b" in first
    assert "page 1 of" in first and "run " in first  # footer: page numbers, run id
    assert "Assumptions and sources" not in first and "modebar" not in first.lower()


def test_a_fraction_of_a_kilogram_of_co2e_reads_in_grams():
    """A phone's hour of chat read '0.001157 kgCO2e' in its run report: under a kilogram it reads in grams."""
    from costsim.report.fmt import fmt_value

    assert fmt_value("co2e_kg", 0.001157) == "1.157 gCO2e"
    assert fmt_value("co2e_kg", 3.2) == "3.2 kgCO2e" and fmt_value("co2e_kg", 1500.0) == "1.5 tCO2e"
