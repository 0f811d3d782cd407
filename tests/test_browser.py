"""Every page of the app in a real browser: `streamlit run app.py` on 127.0.0.1 and Playwright
driving Debian's chromium (never `playwright install`). Each page loads, one widget changes, a
metric or chart changes with it; screenshots land in test-artifacts/.

Without chromium the test skips with the reason, except under CI (CI=1), where it fails:
.ci/run installs chromium with apt-get.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

# A real browser against a real server on a shared 2-core CI box: a render that misses its wait
# window is retried once; a page that is really broken fails every time.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.flaky(reruns=1, reruns_delay=2)]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 90_000


def chromium_path() -> str | None:
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    return exe if Path(exe).exists() else None


def require(ok: bool, reason: str) -> None:
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: .ci/run must install it)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    log = (ARTIFACTS / "streamlit.log")
    ARTIFACTS.mkdir(exist_ok=True)
    fh = log.open("w")
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not become healthy; log:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        fh.close()


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    require(exe is not None, "Debian chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "the playwright Python package is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.base = server  # type: ignore[attr-defined]
    yield pg
    ctx.close()


def open_page(pg, path: str) -> None:
    pg.goto(f"{pg.base}/{path}")
    pg.locator("h1").first.wait_for()
    settle(pg)


def settle(pg, quiet_ms: int = 500) -> None:
    """Wait until the script run finished: stApp's data-test-script-state leaves running/initial and
    stays out of it for quiet_ms (a widget change can queue a second run)."""
    pg.wait_for_timeout(200)
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    busy = ("running", "rerunRequested", "initial")
    app = pg.locator('[data-testid="stApp"]')
    while time.monotonic() < deadline:
        if app.get_attribute("data-test-script-state") not in busy:
            pg.wait_for_timeout(quiet_ms)
            if app.get_attribute("data-test-script-state") not in busy:
                return
        pg.wait_for_timeout(100)
    raise AssertionError("the app kept running for a minute")


def no_exception(pg) -> None:
    exc = pg.locator('[data-testid="stException"]')
    assert exc.count() == 0, exc.first.inner_text()


def metric_value(pg, label: str) -> str:
    m = pg.locator('[data-testid="stMetric"]').filter(has=pg.get_by_text(label, exact=True)).first
    return m.locator('[data-testid="stMetricValue"]').inner_text()


def wait_changed(pg, read, old: str, what: str) -> str:
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        settle(pg, 200)
        new = read()
        if new != old:
            return new
    raise AssertionError(f"{what} did not change from {old!r}")


def set_number(pg, label: str, value: str) -> None:
    box = pg.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")


def choose(pg, label: str, option: str) -> None:
    pg.locator('[data-testid="stSelectbox"]').filter(has=pg.get_by_text(label, exact=True)).first.click()
    pg.get_by_role("option", name=option, exact=True).first.click()


def shot(pg, name: str) -> None:
    settle(pg)
    pg.wait_for_timeout(800)  # let plotly and the data grids finish drawing
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_train_page_in_browser(page):
    open_page(page, "")  # the default page lives at the root
    no_exception(page)
    shot(page, "train-default")
    if page.get_by_text("not available yet").count():
        pytest.fail("the training API is missing")
    before = metric_value(page, "Wall time")
    set_number(page, "GPUs", "4096")
    after = wait_changed(page, lambda: metric_value(page, "Wall time"), before, "Wall time")
    no_exception(page)
    assert "?train=" in page.url, "the address bar holds the share link"
    shot(page, "train-4096-gpus")
    # the share link reproduces the page in a fresh tab
    link = page.url
    pg2 = page.context.new_page()
    pg2.goto(link)
    pg2.locator("h1").first.wait_for()
    settle(pg2)
    assert metric_value(pg2, "Wall time") == after
    pg2.close()


def test_an_emptied_number_box_is_named_not_read_as_zero(page):
    """An emptied box snapped back to 0 and the page priced with it (Electricity, $/kWh read 0.00, the cost fell
    without a word); now it stays empty, the page names it with what to enter and shows no result until it is filled."""
    open_page(page, "")
    cost = metric_value(page, "Cost")
    page.get_by_text("Facility, prices, reliability", exact=True).click()
    box = page.get_by_role("spinbutton", name="Electricity, $/kWh", exact=True)
    box.fill("")
    box.press("Tab")
    page.get_by_text("'Electricity, $/kWh' is empty: enter a number from 0 to 100; it held 0.08.").wait_for()
    settle(page)
    assert box.input_value() == "" and page.locator('[data-testid="stMetric"]').count() == 0
    shot(page, "train-emptied-box")
    set_number(page, "Electricity, $/kWh", "0.08")
    page.locator('[data-testid="stMetric"]').first.wait_for()
    settle(page)
    assert metric_value(page, "Cost") == cost


@pytest.mark.parametrize("path", ["train", "start"])
def test_train_page_opens_at_its_own_path(page, path):
    """/train and /start are the Train page too (the default page lives at the root; Streamlit answered /train, and
    /start, the default page's own url_path, with a 'Page not found' dialog over it), and the share link stays there."""
    open_page(page, path)
    no_exception(page)
    assert page.locator("h1").first.inner_text().startswith("Train a model")
    assert page.get_by_text("Page not found").count() == 0
    assert f"/{path}?train=" in page.url
    assert metric_value(page, "Wall time")


def choice_moves_metric(page, slug, ready, field, option, metric, shot_after):
    """Open a page, wait for `ready`, pick `option` in the select box `field`, and wait for the metric
    `metric` to change; screenshots before and after, no exception on the page at either point."""
    open_page(page, slug)
    no_exception(page)
    ready.wait_for()
    shot(page, f"{slug}-default")
    before = metric_value(page, metric)
    choose(page, field, option)
    wait_changed(page, lambda: metric_value(page, metric), before, metric)
    no_exception(page)
    shot(page, shot_after)


def test_serve_page_in_browser(page):
    choice_moves_metric(page, "serve", page.locator('[data-testid="stPlotlyChart"]').first,  # throughput-latency chart
                        "Weight precision", "int4", "$ per million tokens", "serve-int4")
    # both trust ranges next to the headline numbers: throughput, and power / energy
    assert page.get_by_text("applies to serving throughput", exact=False).count() >= 1
    assert page.get_by_text("applies to power and energy", exact=False).count() >= 1


def test_site_page_in_browser(page):
    open_page(page, "site")
    no_exception(page)
    shot(page, "site-default")
    page.locator('[data-testid="stPlotlyChart"]').nth(1).wait_for()  # hourly price and carbon charts
    if page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text("Facility peak power", exact=True)).count():
        before = metric_value(page, "Facility peak power")
        set_number(page, "PUE", "1.5")
        wait_changed(page, lambda: metric_value(page, "Facility peak power"), before, "Facility peak power")
    else:  # no site API yet: the region charts still follow the region
        head = lambda: page.locator("h3").filter(has_text="Region").first.inner_text()  # noqa: E731
        before = head()
        choose(page, "Region", "de-germany")
        wait_changed(page, head, before, "region heading")
    no_exception(page)
    shot(page, "site-changed")


def test_plan_page_in_browser(page):
    choice_moves_metric(page, "plan", page.get_by_text("Total cost").first, "Loss-law fit", "hoffmann2022",
                        "Parameters", "plan-changed")
    assert page.get_by_text("Trust range (serving core)", exact=False).count() >= 1
    # a serving latency limit moves the total (the fleet is priced at smaller batches)
    before = metric_value(page, "Total cost")
    choose(page, "Serving latency limit (time per output token)", "30 ms")
    wait_changed(page, lambda: metric_value(page, "Total cost"), before, "Total cost")
    no_exception(page)
    shot(page, "plan-latency-limit")


def test_optimize_page_in_browser(page):
    open_page(page, "optimize")
    no_exception(page)
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_text("on the Pareto front of").first.wait_for()
    settle(page)
    no_exception(page)
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for()  # the front chart
    assert page.get_by_text("applies to training throughput", exact=False).count() >= 1  # the designs' trust range
    shot(page, "optimize-front")


def test_compare_page_in_browser(page):
    open_page(page, "compare")
    no_exception(page)
    shot(page, "compare-training")
    page.get_by_text("Wall time", exact=True).first.wait_for()  # the training comparison's first chart
    page.get_by_text("the same serving demand", exact=True).click()
    page.get_by_text("Devices for the demand").first.wait_for()
    settle(page)
    no_exception(page)
    shot(page, "compare-serving")


def test_scenario_page_in_browser(page):
    open_page(page, "scenario")
    no_exception(page)
    shot(page, "scenario-default")
    rid = lambda: page.locator("code").filter(has_text="").all_inner_texts()  # noqa: E731
    before = rid()
    editor = page.get_by_label("Scenario YAML", exact=True)
    text = editor.input_value()
    assert "name:" in text
    editor.fill(text.rstrip() + "\ndescription: edited in the browser test\n")
    editor.press("Control+Enter")
    wait_changed(page, rid, before, "run id")
    no_exception(page)
    assert page.get_by_text("edited in the browser test").count() >= 1
    shot(page, "scenario-edited")


def test_long_scenario_run_in_the_background_can_be_cancelled(page):
    """A long run (Llama 3.1 405B pre-training, 3 variants x 20 replicates, ~1 min) runs in a child process: the
    Train page answers a widget change while it runs, the Scenario page shows its progress, Cancel stops it."""
    open_page(page, "scenario")
    choose(page, "Scenario", "llama3-405b-pretraining.yaml")
    settle(page)
    page.get_by_role("button", name="Run scenario").click()
    page.get_by_text("Simulating in the background").first.wait_for()
    shot(page, "scenario-background-run")
    # another page stays responsive while the run goes on (navigation inside the same session: the top links)
    page.get_by_role("link", name="Train").first.click()
    page.locator("h1").filter(has_text="Train").first.wait_for()
    settle(page)
    before = metric_value(page, "Wall time")
    t0 = time.monotonic()
    set_number(page, "GPUs", "2048")
    wait_changed(page, lambda: metric_value(page, "Wall time"), before, "Wall time")
    answer_s = time.monotonic() - t0
    print(f"train page answered in {answer_s:.2f} s during a background run")
    assert answer_s < 15, answer_s  # a blocked server would wait for the whole run (a minute or more)
    # back on the scenario page: still running, then cancelled
    page.get_by_role("link", name="Scenario").first.click()
    page.locator("h1").filter(has_text="Scenario").first.wait_for()
    page.get_by_text("Simulating in the background").first.wait_for()
    page.get_by_role("button", name="Cancel run").click()
    page.get_by_text("run cancelled").first.wait_for()
    assert page.get_by_text("Simulating in the background").count() == 0
    no_exception(page)
    shot(page, "scenario-cancelled")


def test_validation_page_in_browser(page):
    open_page(page, "validation")
    no_exception(page)
    shot(page, "validation")
    if page.get_by_text("No validation cases yet").count() == 0:
        page.locator('[data-testid="stPlotlyChart"]').first.wait_for()
        cases = int(metric_value(page, "Cases").replace(",", ""))  # 1,835: thousands separators
        assert cases > 0
        page.get_by_text("Only failures and known gaps", exact=True).click()
        settle(page)
        no_exception(page)
        shot(page, "validation-failures")
