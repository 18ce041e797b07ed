"""A real browser opens the stage page of a simulated and of a real run in Spark's History Server.

Headless Chromium (Debian's `chromium` package; `make setup` and `.ci/run` install it where
missing) loads `/history/<app>/stages/stage/?id=1&attempt=0` of the simulated run, the real run and the
real run's simulated twin of `test_history`'s server, takes a screenshot and dumps the DOM after the page's scripts ran; the page must be the
stage's (not an error page) and hold the event timeline Spark draws from the task events, one
timeline item per task. Skipped, with the reason, only where the browser is not installed.

The README's figures (`reports/figures/history_stage_{simulated,real,twin}.png`) are made by the slow
test at the end (`pytest -m slow tests/test_history_browser.py`): the same pages with the "Event
Timeline" section opened, as a user clicks it, driven over Chromium's DevTools protocol on a pipe
(`--remote-debugging-pipe`: NUL-separated JSON messages, no extra package).
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO
from test_history import Served

FIGURES = REPO / "reports" / "figures"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# What the brief of the test asks Chromium for: no first-run dialogs, no traffic of its own
# (so nothing but the History Server is contacted), a fixed window, and a virtual-time budget so
# the page's scripts (the vis.js timeline) have run before the DOM is dumped.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1000"]


def _browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("chromium not installed (apt-get install -y chromium; `make setup` tries it)")
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    _browser()
    s = Served(tmp_path_factory.mktemp("history-browser"))
    try:
        yield s
    finally:
        s.stop()


def stage_url(served: Served, app: str, stage: int = 1) -> str:
    return f"{served.url}/history/{app}/stages/stage/?id={stage}&attempt=0"


def end_leftovers(profile: Path, wait_s: float = 10.0) -> None:
    """Chromium's helpers (zygote, crash handler) may outlive the browser a moment: wait for the
    ones of this run, known by its own profile folder in their command line, and end any left."""
    import psutil

    def ours():
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            if any(str(profile) in arg for arg in proc.info["cmdline"] or ()):
                found.append(proc)
        return found

    deadline = time.monotonic() + wait_s
    while ours() and time.monotonic() < deadline:
        time.sleep(0.2)
    for proc in ours():
        try:
            proc.kill()
        except psutil.Error:
            pass


def screenshot_and_dom(url: str, png: Path, profile: Path) -> str:
    """One headless Chromium run: the page's screenshot to `png`, its DOM after the scripts ran."""
    out = subprocess.run([_browser(), *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=8000",
                          f"--screenshot={png}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=60)
    end_leftovers(profile)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.spark
@pytest.mark.parametrize("which", ["simulated", "real", "twin"])
def test_stage_page_renders_the_event_timeline(served, tmp_path, which):
    app = {"simulated": served.sim_id, "real": served.real_id, "twin": served.twin_id}[which]
    # the twin has the real run's tasks: one bar per task on both pages
    n_tasks = len(served.result.stage_tasks(1)) if which == "simulated" else \
        sum(1 for t in served.real_log().tasks if t.stage_id == 1)
    png = tmp_path / f"{which}.png"
    dom = screenshot_and_dom(stage_url(served, app), png, tmp_path / "profile")
    assert "Details for Stage 1 (Attempt 0)" in dom, dom[:2000]
    assert "Not Found" not in dom and "Application not found" not in dom
    assert 'id="task-assignment-timeline"' in dom
    # one timeline bar per task: vis.js items carrying the class Spark gives task bars
    assert len(re.findall(r'class="vis-item [^"]*task-assignment-timeline-object', dom)) == n_tasks
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000


# ----------------------------------------------------------------------------- the README's figure
class DevTools:
    """Chromium driven over its DevTools protocol on a pipe (fds 3 and 4 of the browser)."""

    def __init__(self, profile: Path):
        self.profile = profile
        self._to_r, self._to_w = os.pipe()
        self._from_r, self._from_w = os.pipe()

        def fds():   # the browser reads commands on fd 3 and writes replies on fd 4
            os.dup2(self._to_r, 3)
            os.dup2(self._from_w, 4)

        self.proc = subprocess.Popen([_browser(), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe",
                                      "about:blank"], pass_fds=(3, 4), preexec_fn=fds,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(self._to_r)
        os.close(self._from_w)
        self._buf, self._id, self.session = b"", 0, None

    def call(self, method: str, params: dict | None = None, timeout_s: float = 30.0) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            while b"\0" not in self._buf:
                ready, _, _ = select.select([self._from_r], [], [], max(0.0, deadline - time.monotonic()))
                chunk = os.read(self._from_r, 1 << 20) if ready else b""
                assert chunk, f"no reply from Chromium to {method}"
                self._buf += chunk
            raw, self._buf = self._buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                assert "error" not in reply, reply["error"]
                return reply["result"]

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def js(self, expression: str):
        return self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})["result"].get("value")

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout_s=10)
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()    # our own child, by its pid
                self.proc.wait()
            os.close(self._to_w)
            os.close(self._from_r)
            end_leftovers(self.profile)


def timeline_screenshot(url: str, png: Path, profile: Path) -> int:
    """Open the stage page, click "Event Timeline" open, save a screenshot; return the bar count."""
    browser = DevTools(profile)
    try:
        browser.open(url)
        deadline = time.monotonic() + 30
        while not browser.js("document.readyState == 'complete' && "
                             "document.querySelectorAll('.task-assignment-timeline-object').length > 0"):
            assert time.monotonic() < deadline, f"no event timeline on {url}"
            time.sleep(0.2)
        browser.js("document.querySelector('span.expand-task-assignment-timeline').click()")
        time.sleep(1.0)    # the timeline draws itself when it becomes visible
        # The task table loads over REST behind a "Loading Stage Page..." overlay (jQuery blockUI).
        while browser.js("document.querySelectorAll('.blockUI').length > 0"):
            assert time.monotonic() < deadline, f"the stage page of {url} never finished loading"
            time.sleep(0.2)
        bars = browser.js("document.querySelectorAll('.task-assignment-timeline-object').length")
        png.write_bytes(base64.b64decode(browser.call("Page.captureScreenshot", {"format": "png"})["data"]))
        return bars
    finally:
        browser.close()


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.parametrize("which", ["simulated", "real", "twin"])
def test_save_the_readme_screenshots(served, tmp_path, which):
    FIGURES.mkdir(parents=True, exist_ok=True)
    app = {"simulated": served.sim_id, "real": served.real_id, "twin": served.twin_id}[which]
    n_tasks = len(served.result.stage_tasks(1)) if which == "simulated" else \
        sum(1 for t in served.real_log().tasks if t.stage_id == 1)
    png = FIGURES / f"history_stage_{which}.png"
    assert timeline_screenshot(stage_url(served, app), png, tmp_path / f"profile-{which}") == n_tasks
    assert png.read_bytes()[:8] == PNG_MAGIC
