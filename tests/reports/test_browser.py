"""The report and the dashboard in a real headless browser: Chromium from Debian's packages
(`.ci/run` installs `chromium` and `chromium-driver`), driven by Selenium through chromedriver.

Each page is checked for what a person would see: every chart drawn (its plotting area holds
pixels of the series' colours, counted on a screenshot of the chart with Pillow) and no error in
the browser's console (a script error, a resource refused by the Content Security Policy, a
failed load). Without Chromium these tests fail, naming the packages (set
CESSION_SKIP_BROWSER=1 to leave them out on purpose)."""

from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.reports.conftest import AS_OF

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: the series' colours (api/reports/charts.py COLOURS), as drawn
SERIES = ((0x1F, 0x5F, 0xA8), (0xC2, 0x47, 0x1F), (0x2F, 0x8F, 0x4E), (0x8A, 0x5C, 0xB8))


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    """The browser sees the same pages from either store: SQLite only here (test_dashboard.py
    checks the pages on both)."""
    return f"sqlite:///{tmp_path_factory.mktemp('browser') / 'store.db'}"


@pytest.fixture(scope="module")
def browser():
    if os.environ.get("CESSION_SKIP_BROWSER") == "1":
        pytest.skip("CESSION_SKIP_BROWSER=1")
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists() and not shutil.which(Path(p).name)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not installed: apt-get install -y chromium chromium-driver (.ci/run does)",
            pytrace=False,
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, condition, what: str) -> None:
    """Until ``condition(driver)`` holds (a page loaded after a click or a submit), at most 15 s."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 15).until(condition, message=f"waited for {what}")


def console_errors(driver) -> list[str]:
    """The console's errors since the last call (the log is drained on reading)."""
    return [f"{e['level']}: {e['message']}" for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def drawn_pixels(png: bytes) -> int:
    """Pixels of a series' colour (within a small tolerance for anti-aliasing) in a screenshot."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    count = 0
    for r, g, b in image.get_flattened_data():
        if any(abs(r - sr) + abs(g - sg) + abs(b - sb) < 60 for sr, sg, sb in SERIES):
            count += 1
    return count


def assert_charts_drawn(driver, page: str, at_least: int) -> None:
    from selenium.webdriver.common.by import By

    charts = driver.find_elements(By.CSS_SELECTOR, "figure svg.chart")
    assert len(charts) >= at_least, f"{page}: {len(charts)} charts"
    for chart in charts:
        driver.execute_script("arguments[0].scrollIntoView();", chart)
        title = chart.get_attribute("aria-label")
        size = chart.size
        assert size["width"] > 200 and size["height"] > 80, f"{page}: chart {title!r} is {size}"
        if "no data" in chart.text or "all 0" in chart.text:
            continue  # an empty chart says so (a portfolio without placements, a band without claims)
        pixels = drawn_pixels(chart.screenshot_as_png)
        assert pixels > 150, f"{page}: chart {title!r} has {pixels} drawn pixels"


def test_the_report_file_opens_offline_with_its_charts_drawn(browser, generated, tmp_path):
    from api.reports import service

    figures = service.report(store=generated["store"], portfolio_id=_largest(generated), as_of=AS_OF, rate=0.1)
    out = service.write_html(figures=figures, out=tmp_path / "report.html")
    browser.get(out.as_uri())
    assert "Cession report" in browser.title
    assert_charts_drawn(browser, "report.html", 5)
    shot = browser.get_screenshot_as_png()
    assert drawn_pixels(shot) > 500
    (tmp_path / "report.png").write_bytes(shot)
    assert console_errors(browser) == []


@pytest.fixture
def server(generated):
    import uvicorn

    from api.http.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(generated["store"]), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(10)


def _largest(generated) -> str:
    return generated["claims"].group_by("portfolio_id").len().sort("len", descending=True)["portfolio_id"][0]


def test_the_dashboard_in_a_browser_from_login_to_a_claim(browser, generated, server):
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(f"{server}/dashboard")
    assert "/dashboard/login" in browser.current_url  # no key: the login form
    browser.find_element(By.NAME, "key").send_keys(generated["keys"]["legal"])
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(browser, lambda d: "analyst and admin keys" in d.page_source, "the refusal of a legal key")
    browser.find_element(By.NAME, "key").send_keys(generated["keys"]["analyst"])
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "portfolios"), "the portfolios")
    assert browser.current_url.rstrip("/").endswith("/dashboard")
    console_errors(browser)  # the refused login's 401 is logged as a failed load: not a page's error

    portfolio = _largest(generated)
    links = browser.find_elements(By.CSS_SELECTOR, "#portfolios a")
    assert portfolio in [a.text for a in links]
    assert console_errors(browser) == []

    browser.find_element(By.LINK_TEXT, portfolio).click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "chart-curve"), "the portfolio's page")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(portfolio)
    assert_charts_drawn(browser, "portfolio page", 5)
    assert console_errors(browser) == []

    claim = generated["claims"].filter(generated["claims"]["portfolio_id"] == portfolio).row(0, named=True)
    box = browser.find_element(By.NAME, "q")
    box.send_keys(claim["seller_ref"])
    box.submit()
    wait_for(browser, lambda d: d.find_elements(By.ID, "results"), "the search's results")
    rows = browser.find_elements(By.CSS_SELECTOR, "#results a")
    assert [a.text for a in rows] == [str(claim["claim_id"])]
    assert console_errors(browser) == []

    rows[0].click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "limitation-steps"), "the claim's page")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(f"Claim {claim['claim_id']}")
    steps = browser.find_elements(By.CSS_SELECTOR, "#limitation-steps tr")
    assert len(steps) >= 2  # the heading and at least the claim's due date
    assert console_errors(browser) == []
