"""The listening page in a real browser: headless Chromium (Debian's chromium + chromium-driver) driven by Selenium.

Skipped, with the reason, where Selenium, Chromium or its driver is missing or cannot start (`make browser`
installs them). The page is opened over file://, as a listener double-clicking index.html would, and one
track page again from a static HTTP server.
"""

import functools
import http.server
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from helpers.studies import small_study
from openunmix.commands.compare import main as compare_main

TRACK_SECONDS = 3.0
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DRIVERS = ("chromedriver", "/usr/lib/chromium/chromedriver", "/usr/bin/chromedriver")


def _which(names):
    for name in names:
        found = shutil.which(name) or (name if Path(name).is_file() else None)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = _which(BROWSERS), _which(DRIVERS)
    if binary is None or driver_path is None:
        missing = " and ".join(n for n, p in (("chromium", binary), ("chromium-driver", driver_path)) if p is None)
        pytest.skip(f"browser tests skipped: {missing} not found (make browser installs Debian's chromium and "
                    "chromium-driver)")
    os.environ.setdefault("SE_OFFLINE", "true")  # the driver is given: Selenium Manager downloads nothing
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio",
                 "--autoplay-policy=no-user-gesture-required", "--window-size=1280,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except Exception as err:  # selenium raises several types when the browser cannot start
        pytest.skip(f"browser tests skipped: {binary} did not start ({str(err).strip().splitlines()[0]})")
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Three methods (C without estimates, and without the third track), a root, estimates of A and B."""
    base = tmp_path_factory.mktemp("page")
    s = small_study(base)
    dest = base / "report"
    status = compare_main([f"{n}={s[n]}" for n in "ABC"] + [
        "--outdir", str(base / "out"), "--resamples", "199", "--quiet", "--report", str(dest),
        "--root", str(s["root"]), "--is-wav", "--estimates", f"A={s['est_A']}", f"B={s['est_B']}"])
    assert status == 0
    return dest


def _console_errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _wait(driver, script, timeout=10.0):
    """Poll a JavaScript expression until it is truthy; return its value."""
    end = time.monotonic() + timeout
    while True:
        value = driver.execute_script(f"return {script}")
        if value or time.monotonic() > end:
            return value
        time.sleep(0.05)


def _track_pages(report):
    return sorted((report / "tracks").glob("*.html"))


def _load_players(driver, url):
    driver.get(url)
    assert _wait(driver, "Array.from(document.querySelectorAll('audio')).every(a => a.readyState >= 1 || a.error)")
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('audio')).map(a => "
        "({id: a.id, src: a.currentSrc, duration: a.duration, error: a.error && a.error.code}))")


def test_index_has_the_tables_plots_and_sorts(browser, report):
    for path in [report / "index.html", *_track_pages(report), report / "report.js", report / "report.css"]:
        assert "://" not in path.read_text(), path  # nothing from the network: works offline
    browser.get((report / "index.html").as_uri())
    rows = browser.execute_script("return document.querySelectorAll('#results-table tbody tr').length")
    assert rows == 3 * 2  # methods x targets
    assert browser.execute_script("return document.querySelectorAll('#pairwise-table tbody tr').length") == 3 * 2 * 4 + 2
    assert browser.execute_script("return document.querySelectorAll('#tracks-table a').length") == 3
    assert browser.execute_script("return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    assert browser.execute_script("return document.images.length") == 3
    verdicts = browser.execute_script(
        "return Array.from(document.querySelectorAll('#pairwise-table td.verdict')).map(c => c.textContent)")
    assert verdicts and all(v == "no significant difference" or " > " in v for v in verdicts)
    header = browser.find_element("css selector", "#results-table thead th:nth-child(3)")  # SDR
    column = "Array.from(document.querySelectorAll('#results-table tbody tr td:nth-child(3)')).map(c => +c.dataset.sort)"
    header.click()
    ascending = browser.execute_script(f"return {column}")
    assert ascending == sorted(ascending) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert browser.execute_script(f"return {column}") == sorted(ascending, reverse=True)
    assert _console_errors(browser) == []


def test_every_player_loads_its_file_with_the_tracks_duration(browser, report):
    pages = _track_pages(report)
    assert len(pages) == 3
    for page in pages:
        players = _load_players(browser, page.as_uri())
        assert len(players) == 1 + 2 + 2 * 2, page  # mixture, 2 references, A and B for each target
        for p in players:
            assert p["error"] is None and p["src"].endswith(".ogg"), p
            assert p["duration"] == pytest.approx(TRACK_SECONDS, abs=0.05), p
        cursors = browser.execute_script("return document.querySelectorAll('svg line.cursor').length")
        assert cursors == (3 if "Gamma" not in page.name else 2) * 2  # one SDR curve per method with scores
        assert _console_errors(browser) == [], page
    # the same from a static server (python -m http.server in the folder is enough)
    handler = functools.partial(_QuietHandler, directory=str(report))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/tracks/{pages[0].name}"
        _load_players(browser, url)
        # http.server answers no range requests: the page fetches each file whole and plays it from memory
        assert _wait(browser, "Array.from(document.querySelectorAll('audio')).every(a => "
                              "a.dataset.whole === 'yes' && a.readyState >= 1)")
        players = browser.execute_script("return Array.from(document.querySelectorAll('audio')).map(a => "
                                         "({duration: a.duration, error: a.error, seekable: a.seekable.length}))")
        assert all(p["error"] is None and p["seekable"] and p["duration"] == pytest.approx(TRACK_SECONDS, abs=0.05)
                   for p in players), players
        browser.execute_script("document.getElementById('p-mixture').currentTime = 1.25")
        _wait(browser, "!document.getElementById('p-mixture').seeking")
        browser.find_element("css selector", "#target-vocals button[data-player='p-0-0']").click()
        assert browser.execute_script("return document.getElementById('p-0-0').currentTime") == pytest.approx(1.25, abs=0.01)
        assert _console_errors(browser) == []
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_cursor_follows_the_playback_time(browser, report):
    _load_players(browser, _track_pages(report)[0].as_uri())
    xs = "Array.from(document.querySelectorAll('svg line.cursor')).map(l => +l.getAttribute('x1'))"
    bars = "Array.from(document.querySelectorAll('.spec .bar')).map(b => parseFloat(b.style.left) || 0)"
    assert set(browser.execute_script(f"return {xs}")) == {0.0}
    browser.execute_script("document.getElementById('p-mixture').currentTime = 1.5")
    assert _wait(browser, f"{xs}.every(x => Math.abs(x - 500) < 1)")  # 1.5 s of 3 s: half of 1000 units
    assert _wait(browser, f"{bars}.every(x => Math.abs(x - 50) < 0.1)")
    browser.execute_script("document.getElementById('p-mixture').play()")
    assert _wait(browser, "document.getElementById('p-mixture').currentTime > 1.8")
    assert _wait(browser, f"{xs}.every(x => x > 600)")  # moving with the playing audio
    browser.execute_script("document.getElementById('p-mixture').pause()")
    assert _console_errors(browser) == []


def test_switching_methods_keeps_the_position(browser, report):
    _load_players(browser, _track_pages(report)[0].as_uri())

    def state(player_id):
        return browser.execute_script(
            f"var a = document.getElementById('{player_id}'); return [a.currentTime, a.paused, "
            "a.closest('.player').classList.contains('active')]")

    def switch(player_id):
        browser.find_element("css selector", f"#target-vocals button[data-player='{player_id}']").click()

    # paused: A's vocals at 2.0 s, then B's vocals
    browser.execute_script("document.getElementById('p-0-0').currentTime = 2.0")
    _wait(browser, "!document.getElementById('p-0-0').seeking")
    switch("p-1-0")
    time_b, paused_b, active_b = state("p-1-0")
    assert time_b == pytest.approx(2.0, abs=0.01) and paused_b and active_b
    assert "on" in browser.find_element("css selector", "#target-vocals button[data-player='p-1-0']").get_attribute("class")
    # playing: B plays from 0.5 s, switch back to A while it plays
    browser.execute_script("var b = document.getElementById('p-1-0'); b.currentTime = 0.5; b.play()")
    assert _wait(browser, "document.getElementById('p-1-0').currentTime > 0.8")
    switch("p-0-0")
    before = state("p-1-0")[0]
    time_a, paused_a, active_a = state("p-0-0")
    assert not paused_a and active_a and state("p-1-0")[1]  # A plays, B stopped
    assert time_a == pytest.approx(before, abs=0.25)  # where B was when the button was pressed
    browser.execute_script("document.getElementById('p-0-0').pause()")
    assert _console_errors(browser) == []
