"""`semcom web` in a real browser: headless Chromium (the system's, driven by Selenium) against the page,
the page's server and the three real services on loopback.

Skipped where no Chromium is installed, unless SEMCOM_REQUIRE_BROWSER=1 (as `.ci/run` sets after installing
it): then a missing browser is a failure, not a skip. SEMCOM_SCREENSHOT=FILE keeps a screenshot of the page.
"""

import io
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from PIL import Image

from semcom.web.examples import example_png
from tests.e2e.conftest import free_ports, start_services

pytestmark = pytest.mark.e2e

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _need_browser():
    missing = not (CHROMIUM and os.path.exists(CHROMEDRIVER))
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing = True
    if missing:
        if os.environ.get("SEMCOM_REQUIRE_BROWSER") == "1":
            pytest.fail("SEMCOM_REQUIRE_BROWSER=1 but Chromium, chromedriver or selenium is missing")
        pytest.skip("needs Chromium + chromedriver (Debian: chromium chromium-driver) and selenium")


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    _need_browser()
    photos = tmp_path_factory.mktemp("photos")  # a user's own frames, given with --examples
    Image.open(io.BytesIO(example_png("portrait"))).crop((0, 0, 480, 360)).save(photos / "frame-0001.jpg")
    with start_services(tmp_path_factory, "web") as services:
        (port,) = free_ports(1)
        log = open(tmp_path_factory.mktemp("weblog") / "web.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "semcom.web.app", "--port", str(port),
                                 "--transmitter", services.addr("transmitter"), "--receiver", services.addr("receiver"),
                                 "--examples", str(photos)], stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            end = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(url + "/healthz", timeout=5) as r:
                        if json.loads(r.read())["status"] == "SERVING":
                            break
                except (urllib.error.URLError, ConnectionError):
                    pass
                assert proc.poll() is None, "semcom web exited"
                assert time.monotonic() < end, "semcom web not healthy after 120 s"
                time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)
            log.close()


@pytest.fixture(scope="module")
def browser(web):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1100"):
        opts.add_argument(arg)
    if CHROMIUM:
        opts.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.get(web)
    _until(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "1", "page ready")
    yield driver
    driver.quit()


def _until(driver, cond, what, timeout=240):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.2).until(cond, message=f"waiting for {what}")


def _send(driver, example: str, request: str, button: str = "send"):
    from selenium.webdriver.support.ui import Select

    driver.execute_script("document.getElementById('numbers').tBodies[0].dataset.ready = '';"
                          "document.getElementById('plot').dataset.ready = '';")
    Select(driver.find_element("id", "example")).select_by_value(example)
    box = driver.find_element("id", "task")
    box.clear()
    box.send_keys(request)
    driver.find_element("id", button).click()


def _result_loaded(driver) -> bool:
    return driver.execute_script("const i = document.getElementById('result'); return i.complete && i.naturalWidth > 0")


def test_reconstruction_shows_the_image_and_its_numbers(browser):
    _send(browser, "shapes", "reconstruct the image")
    _until(browser, lambda d: d.find_element("id", "numbers").find_element("tag name", "tbody")
           .get_attribute("data-ready") == "1", "the result's numbers")
    assert browser.find_element("id", "negotiated").get_attribute("data-task") == "reconstruction"
    _until(browser, _result_loaded, "the reconstruction image")
    text = browser.find_element("id", "numbers").text
    assert "PSNR" in text and "MS-SSIM" in text and "channel uses" in text and "CBR" in text and "time: receiver: decoding" in text
    assert browser.find_element("id", "error").is_displayed() is False


def test_segmentation_shows_the_overlay_and_legend(browser):
    _send(browser, "street", "segment this image")
    _until(browser, lambda d: d.find_element("id", "negotiated").get_attribute("data-task") == "segmentation",
           "the segmentation")
    _until(browser, _result_loaded, "the overlay")
    legend = browser.find_elements("css selector", "#legend li")
    assert len(legend) >= 2 and "sky" in browser.find_element("id", "legend").text
    assert "channel uses" in browser.find_element("id", "numbers").text
    # the receiver's live stream lists what it published
    _until(browser, lambda d: len(d.find_elements("css selector", "#stream li")) >= 1, "the live result stream")
    shot = os.environ.get("SEMCOM_SCREENSHOT")
    if shot:
        browser.save_screenshot(shot)


def test_a_folder_given_with_examples_joins_the_list_and_sends(browser):
    from selenium.webdriver.support.ui import Select

    names = [o.get_attribute("value") for o in Select(browser.find_element("id", "example")).options]
    assert names[1] == "portrait" and names[-1] == "frame-0001"  # the bundled ones first, the user's after
    _send(browser, "frame-0001", "segment this image")
    _until(browser, lambda d: d.find_element("id", "negotiated").get_attribute("data-task") == "segmentation",
           "the segmentation of the user's frame")
    _until(browser, _result_loaded, "its overlay")
    size = browser.execute_script("const i = document.getElementById('result'); return [i.naturalWidth, i.naturalHeight]")
    assert size == [480, 360]


def test_unrelated_request_shows_the_refusal(browser):
    _send(browser, "shapes", "what will the weather be tomorrow")
    _until(browser, lambda d: d.find_element("id", "error").is_displayed(), "the refusal")
    message = browser.find_element("id", "error").text
    assert "INVALID_ARGUMENT" in message and "matches no known task" in message
    assert "Traceback" not in message


def test_sweep_plots_both_curves(browser):
    _send(browser, "shapes", "reconstruct the image", button="sweep")
    _until(browser, lambda d: d.find_element("id", "plot").get_attribute("data-ready") == "1", "the sweep plot")
    assert len(browser.find_elements("css selector", "#plot polyline")) == 2
    assert len(browser.find_elements("css selector", "#plot circle.point")) == 10
    assert "jpeg-16qam-1/2" in browser.find_element("id", "plot").text


def _plot_draws(driver) -> None:
    """Counts how often the plot is drawn from now on (window.plotDraws): once per point that arrives."""
    driver.execute_script("window.plotDraws = 0; new MutationObserver(() => window.plotDraws++)"
                          ".observe(document.getElementById('plot'), {childList: true});")


def test_before_the_first_send_nothing_pretends_to_have_arrived(web):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        driver.get(web)
        _until(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "1", "page ready")
        assert not driver.find_element("id", "result-figure").is_displayed()  # no broken-image icon
        assert driver.find_element("id", "original").is_displayed()  # the example about to be sent
    finally:
        driver.quit()


def test_old_results_leave_the_screen(browser):
    """A segmentation, then a refusal, then a reconstruction sweep: each shows only its own content."""
    _send(browser, "street", "segment this image")
    _until(browser, lambda d: d.find_element("id", "numbers").find_element("tag name", "tbody")
           .get_attribute("data-ready") == "1", "the segmentation's numbers")
    assert browser.find_elements("css selector", "#legend li")
    _send(browser, "shapes", "what will the weather be tomorrow")
    _until(browser, lambda d: d.find_element("id", "error").is_displayed(), "the refusal")
    assert not browser.find_element("id", "result-figure").is_displayed()
    assert not browser.find_elements("css selector", "#legend li")
    assert browser.find_element("id", "numbers").text == "" and browser.find_element("id", "negotiated").text == ""
    _send(browser, "shapes", "reconstruct the image", button="sweep")
    _until(browser, lambda d: d.find_element("id", "plot").get_attribute("data-ready") == "1", "the sweep plot")
    assert not browser.find_element("id", "error").is_displayed()
    assert not browser.find_elements("css selector", "#legend li") and browser.find_element("id", "numbers").text == ""


def test_the_sweep_draws_point_by_point_with_axes_legend_and_downloads(browser):
    _plot_draws(browser)
    _send(browser, "shapes", "reconstruct the image", button="sweep")
    _until(browser, lambda d: d.find_element("id", "plot").get_attribute("data-ready") == "1", "the sweep plot")
    assert browser.execute_script("return window.plotDraws") >= 10  # a drawing per point of each system, and the last
    text = browser.find_element("id", "plot").text
    assert "PSNR (dB)" in text and "SNR (dB), awgn" in text
    ticks = [t.text for t in browser.find_elements("css selector", "#plot text.tick")]
    assert ticks and all(float(t) % 0.5 == 0 for t in ticks if t), ticks  # round numbers
    assert len(browser.find_elements("css selector", "#plot line.grid")) >= 6
    # the legend sits below the axes' frame, so no curve runs under it
    frame = browser.find_element("css selector", "#plot rect.frame")
    bottom = float(frame.get_attribute("y")) + float(frame.get_attribute("height"))
    assert all(float(t.get_attribute("y")) > bottom for t in browser.find_elements("css selector", "#plot text.legend"))
    # hovering an SNR names both systems' values there
    hover = [h.get_attribute("textContent") for h in browser.find_elements("css selector", "#plot rect.hover title")]
    assert len(hover) == 5 and all("proposed" in h and "jpeg-16qam-1/2" in h for h in hover)
    links = {a.text: a for a in browser.find_elements("css selector", "#downloads a")}
    assert set(links) == {"sweep (JSON)", "sweep (CSV)"}
    body = browser.execute_async_script("fetch(arguments[0]).then(r => r.text()).then(arguments[1])",
                                        links["sweep (CSV)"].get_attribute("href"))
    lines = body.strip().splitlines()
    assert lines[0].startswith("snr_db,proposed PSNR (dB)") and len(lines) == 6 and lines[1].startswith("1,")
    shot = os.environ.get("SEMCOM_SCREENSHOT")
    if shot:
        browser.save_screenshot(shot.replace(".png", "_sweep.png"))


def test_a_send_offers_its_image_and_numbers_for_download(browser):
    _send(browser, "shapes", "reconstruct the image")
    _until(browser, lambda d: d.find_element("id", "numbers").find_element("tag name", "tbody")
           .get_attribute("data-ready") == "1", "the result's numbers")
    links = {a.text: a for a in browser.find_elements("css selector", "#downloads a")}
    assert set(links) == {"reconstruction (PNG)", "numbers (JSON)", "numbers (CSV)"}
    assert links["reconstruction (PNG)"].get_attribute("download").endswith("_reconstruction.png")
    doc = json.loads(browser.execute_async_script("fetch(arguments[0]).then(r => r.text()).then(arguments[1])",
                                                  links["numbers (JSON)"].get_attribute("href")))
    assert doc["task"] == "reconstruction" and "psnr_db" in doc and "result" not in doc
    rows = [r.text for r in browser.find_elements("css selector", "#numbers tr")]
    timing = [r for r in rows if r.startswith("time: ")]
    assert timing[:3] == [t for t in timing if t.split(" ")[1] in ("transmitter:", "task")][:3]
    assert timing[0].startswith("time: transmitter: reading the image")
    assert not any("_" in r.split(" ms")[0] for r in timing)  # words, not internal names


def _send_and_wait(browser, example: str, task: str) -> None:
    """Sends the example with the task and waits until the result's numbers are on the page."""
    _send(browser, example, task)
    _until(browser, lambda d: d.find_element("id", "numbers").find_element("tag name", "tbody")
           .get_attribute("data-ready") == "1", "the result's numbers")


def test_the_rician_k_factor_set_on_the_page_reaches_the_channel(browser):
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "channel")).select_by_value("rician")
    k = browser.find_element("id", "param-k_factor")
    k.clear()
    k.send_keys("5")
    try:
        _send_and_wait(browser, "shapes", "reconstruct the image")
        assert "rician (k-factor 5) at 10 dB" in browser.find_element("id", "numbers").text
        _until(browser, lambda d: "rician (k-factor 5)" in d.find_element("id", "stream").text, "the stream entry")
    finally:
        Select(browser.find_element("id", "channel")).select_by_value("awgn")


def test_the_stream_shows_whole_sequence_numbers_and_a_noiseless_channel_without_db(browser):
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "channel")).select_by_value("noiseless")
    try:
        _send_and_wait(browser, "shapes", "reconstruct the image")
        _until(browser, lambda d: "noiseless," in d.find_element("css selector", "#stream li").text, "the entry")
    finally:
        Select(browser.find_element("id", "channel")).select_by_value("awgn")
    first = browser.find_element("css selector", "#stream li").text
    assert first.startswith("#") and "noiseless at" not in first and " dB," not in first.split("noiseless")[1][:5]
    assert browser.execute_script("return getComputedStyle(document.getElementById('stream')).listStyleType") == "none"


def test_lists_fill_once_the_services_come_up(tmp_path_factory):
    """A page opened while the services are still starting says so, and fills its lists when they answer."""
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from semcom.launcher import ServiceProcesses

    tx, ch, rx, web_port = free_ports(4)
    log = open(tmp_path_factory.mktemp("latelog") / "web.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "semcom.web.app", "--port", str(web_port),
                             "--transmitter", f"127.0.0.1:{tx}", "--receiver", f"127.0.0.1:{rx}"],
                            stdout=log, stderr=subprocess.STDOUT)
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.binary_location = CHROMIUM
    driver = None
    try:
        end = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=5).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < end, "semcom web did not start"
                time.sleep(0.3)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        driver.get(f"http://127.0.0.1:{web_port}/")
        _until(driver, lambda d: d.find_element("id", "error").is_displayed(), "the services-down message")
        assert "trying again" in driver.find_element("id", "error").text
        assert len(driver.find_elements("css selector", "#channel option")) == 0
        with ServiceProcesses({"transmitter": tx, "channel": ch, "receiver": rx},
                              extra_args=["--preset", "test", "--weights", "none", "--device", "cpu"],
                              log_dir=tmp_path_factory.mktemp("late")):
            _until(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "1",
                   "the lists, once the services answer")
            assert len(driver.find_elements("css selector", "#channel option")) >= 4
            assert len(driver.find_elements("css selector", "#example option")) >= 3
            assert not driver.find_element("id", "error").is_displayed()
    finally:
        if driver is not None:
            driver.quit()
        proc.terminate()
        proc.wait(10)
        log.close()


def test_an_ofdm_channel_with_estimated_csi_from_the_page(browser):
    """TDL-C's parameters (a list for the FFT size), CSI from pilots, and the pilots' channel uses shown."""
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "channel")).select_by_value("tdl-c")
    Select(browser.find_element("id", "csi")).select_by_value("estimated")
    assert browser.find_element("id", "param-fft_size").tag_name == "select"
    speed = browser.find_element("id", "param-speed_kmh")
    speed.clear()
    speed.send_keys("30")
    try:
        _send_and_wait(browser, "shapes", "reconstruct the image")
        text = browser.find_element("id", "numbers").text
        assert "tdl-c (" in text and "speed-kmh 30" in text and "CSI estimated from pilots" in text
        assert "+ 1536 pilots" in text and "with pilots 0.06" in text  # 384x256: 18432 symbols, 6 slots
    finally:
        Select(browser.find_element("id", "channel")).select_by_value("awgn")
        Select(browser.find_element("id", "csi")).select_by_value("perfect")
