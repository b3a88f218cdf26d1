"""`semcom web` in a real browser: headless Chromium (the system's, driven by Selenium) against the page,
the page's server and the three real services on loopback.

Skipped where no Chromium is installed, unless SEMCOM_REQUIRE_BROWSER=1 (as `.ci/run` sets after installing
it): then a missing browser is a failure, not a skip. SEMCOM_SCREENSHOT=FILE keeps a screenshot of the page.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

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
    with start_services(tmp_path_factory, "web") as services:
        (port,) = free_ports(1)
        log = open(tmp_path_factory.mktemp("weblog") / "web.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "semcom.web.app", "--port", str(port),
                                 "--transmitter", services.addr("transmitter"),
                                 "--receiver", services.addr("receiver")], stdout=log, stderr=subprocess.STDOUT)
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
    assert "PSNR" in text and "MS-SSIM" in text and "channel uses" in text and "CBR" in text and "time: decode" in text
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
