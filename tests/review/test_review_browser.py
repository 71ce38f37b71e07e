"""The review app in real Chromium: open, sort, filter, play, mark, trim, relabel; then read the saved view and log.

Skips (with the reason) when Chromium, its driver, selenium or the web framework is missing.
Set TELEFORGE_SCREENSHOTS=DIR to keep screenshots of the table and the episode page.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the review app needs teleforge[review] (starlette, uvicorn)")
pytest.importorskip("uvicorn", reason="the review app needs teleforge[review] (starlette, uvicorn)")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (teleforge[test])")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from teleforge.curation import load_view  # noqa: E402
from teleforge.curation.review_data import ReviewSession, read_log  # noqa: E402
from teleforge.workflows.review import ReviewServer  # noqa: E402
from tests.curation.synth import shard_digests  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Chromium and chromedriver are not installed "
                                "(Debian: apt-get install chromium chromium-driver)")


@pytest.fixture()
def browser() -> Iterator[Any]:
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1500,1000"):
        opts.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="tf-chromium-")
    opts.add_argument(f"--user-data-dir={profile}")
    opts.binary_location = CHROMIUM
    drv = webdriver.Chrome(options=opts, service=Service(DRIVER))
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(cond: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except Exception as exc:  # noqa: BLE001 - stale elements while the page re-renders
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def shot(drv: Any, name: str) -> None:
    d = os.environ.get("TELEFORGE_SCREENSHOTS")
    if d:
        Path(d).mkdir(parents=True, exist_ok=True)
        drv.save_screenshot(str(Path(d) / f"{name}.png"))


def keys(drv: Any, *ks: str) -> None:
    body = drv.find_element(By.TAG_NAME, "body")
    for k in ks:
        body.send_keys(k)


def test_token_is_required(reviewed: Path) -> None:
    with ReviewServer(ReviewSession(reviewed)) as srv:
        base = f"http://127.0.0.1:{srv.port}"
        for path in ("/", "/api/summary", "/api/episodes", "/api/thumb/0/front", f"/api/summary?token={srv.token}x"):
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(base + path, timeout=10)
            assert e.value.code == 403
        assert urllib.request.urlopen(f"{base}/api/summary?token={srv.token}", timeout=10).status == 200
        req = urllib.request.Request(f"{base}/api/summary", headers={"X-Teleforge-Token": srv.token})
        assert urllib.request.urlopen(req, timeout=10).status == 200


def test_review_in_chromium(reviewed: Path, browser: Any) -> None:
    before = shard_digests(reviewed)
    session = ReviewSession(reviewed, "filtered", name="review", who="tester")
    drv = browser
    with ReviewServer(session) as srv:
        drv.get(srv.url)
        rows = lambda: drv.find_elements(By.CSS_SELECTOR, "#rows tr")  # noqa: E731
        wait(lambda: len(rows()) == len(session.order), "the episode table")
        assert "view review" in drv.find_element(By.TAG_NAME, "header").text
        # thumbnails of both cameras are served (cached) and decode in the browser
        wait(lambda: drv.execute_script(
            "return [...document.querySelectorAll('#rows img.thumb')].slice(0, 4).every(i => i.complete && i.naturalWidth > 0)"),
            "thumbnails")
        # the filter view's reasons show the rule's threshold
        assert "idle_max_run_s > 1.5" in drv.find_element(By.ID, "rows").text
        # sort by a metric (descending on the second click)
        head = lambda: drv.find_element(By.CSS_SELECTOR, 'th[data-col="idle_fraction"]')  # noqa: E731
        head().click()
        wait(lambda: "sorted" in head().get_attribute("class"), "sorted column")
        head().click()
        wait(lambda: "desc" in head().get_attribute("class"), "descending sort")
        top = session.query(sort="idle_fraction", desc=True, limit=1).rows[0]["episode_id"]
        wait(lambda: rows()[0].get_attribute("data-id") == str(top), "the largest idle_fraction first")
        shot(drv, "review-table")
        # filter to the dropped episodes, then back
        Select(drv.find_element(By.ID, "f-decision")).select_by_value("drop")
        wait(lambda: rows() and all("drop" in r.get_attribute("class") for r in rows()) and len(rows()) < len(session.order),
             "only dropped rows")
        Select(drv.find_element(By.ID, "f-decision")).select_by_value("")
        wait(lambda: len(rows()) == len(session.order), "all rows again")

        # open the first kept episode from the keyboard
        # re-find rows inside wait(): a late re-render of the table makes held elements stale
        eid = int(wait(lambda: [r.get_attribute("data-id") for r in rows() if "keep" in r.get_attribute("class")][0],
                       "a kept row"))
        wait(lambda: drv.find_element(By.CSS_SELECTOR, f'#rows tr[data-id="{eid}"]').click() is None, "click the kept row")
        wait(lambda: drv.find_element(By.TAG_NAME, "body").get_attribute("data-episode") == str(eid), "the episode page")
        assert len(drv.find_elements(By.CSS_SELECTOR, "#cams img")) == 2 and len(drv.find_elements(By.CSS_SELECTOR, "#plots canvas")) >= 3
        # play: all cameras advance together with the scrubber
        drv.find_element(By.ID, "play").click()
        wait(lambda: int(drv.find_element(By.ID, "scrubber").get_attribute("value")) >= 5, "playback")
        keys(drv, " ")  # pause
        srcs = drv.execute_script("return [...document.querySelectorAll('#cams img')].map(i => i.src)")
        step = int(drv.find_element(By.ID, "scrubber").get_attribute("value"))
        assert all(f"/{step}?" in s for s in srcs), srcs
        wait(lambda: drv.execute_script("return [...document.querySelectorAll('#cams img')].every(i => i.naturalWidth > 0)"), "frames")
        # mark: drop with a reason
        drv.find_element(By.ID, "why").send_keys("operator bumped the table")
        keys(drv, "d")
        wait(lambda: len(read_log(reviewed)) == 1, "the drop in the log")
        assert eid not in load_view(reviewed, "review").episodes
        # trim at the scrubber: start at step 3, end after step 20
        drv.execute_script("document.getElementById('scrubber').value = 0; document.getElementById('scrubber').dispatchEvent(new Event('input'))")
        keys(drv, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, "[")
        wait(lambda: len(read_log(reviewed)) == 2, "trim start")
        keys(drv, Keys.SHIFT + Keys.ARROW_RIGHT)  # shift: 10 steps
        wait(lambda: drv.find_element(By.ID, "scrubber").get_attribute("value") == "13", "a 10-step jump")
        keys(drv, *([Keys.ARROW_RIGHT] * (17 - int(drv.find_element(By.ID, "scrubber").get_attribute("value")))), "]")
        wait(lambda: len(read_log(reviewed)) == 3, "trim end")
        assert load_view(reviewed, "review").trims[eid] == (3, 18)
        assert drv.find_element(By.ID, "trim-start").text == "3" and drv.find_element(By.ID, "trim-stop").text == "18"
        # relabel the instruction (i, type, Enter) and the outcome
        keys(drv, "i")
        box = drv.find_element(By.ID, "ep-instruction")
        wait(lambda: drv.switch_to.active_element == box, "instruction box focused")
        box.clear()
        box.send_keys("pick up the red cube")
        assert box.get_attribute("value") == "pick up the red cube"
        box.send_keys(Keys.ENTER)
        wait(lambda: len(read_log(reviewed)) == 4, "instruction relabel")
        Select(drv.find_element(By.ID, "ep-outcome")).select_by_value("failure")
        wait(lambda: len(read_log(reviewed)) == 5, "outcome relabel")
        drv.find_element(By.ID, "ep-id").click()  # leave the select, stay on the page
        shot(drv, "review-episode")
        # keep it after all, then j moves to the next episode in table order
        keys(drv, "a")
        wait(lambda: len(read_log(reviewed)) == 6, "keep")
        keys(drv, "j")
        wait(lambda: drv.find_element(By.TAG_NAME, "body").get_attribute("data-episode") not in (str(eid), None), "next episode")
        keys(drv, Keys.ESCAPE)
        wait(lambda: len(rows()) == len(session.order), "back to the table")
        # the table may re-render after the last write lands: re-find the row until it shows the trim
        wait(lambda: "trim 3–18" in drv.find_element(By.CSS_SELECTOR, f'#rows tr[data-id="{eid}"]').text,
             "the trim in the table row")

    log = read_log(reviewed)
    assert [e["action"] for e in log] == ["drop", "trim", "trim", "relabel", "relabel", "keep"]
    assert all(e["who"] == "tester" and e["episode"] == eid for e in log)
    assert log[0]["why"] == "operator bumped the table"
    assert log[3]["after"]["instruction"] == "pick up the red cube" and log[4]["after"]["outcome"] == "failure"
    v = load_view(reviewed, "review")
    assert eid in v.episodes and v.trims[eid] == (3, 18) and v.parent == "filtered"
    assert [d["action"] for d in v.extra["decisions"][str(eid)]] == ["drop", "trim", "trim", "relabel", "relabel", "keep"]
    assert shard_digests(reviewed) == before
