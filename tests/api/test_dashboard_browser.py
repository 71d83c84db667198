"""The dashboard in a real headless Chromium: a running task's bar moves and reaches 100%, cancel works, the bell
shows a new notification, and a screenshot is kept under test-artifacts/."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from progress import ProgressReporter, StepDefinition
from tests.api.conftest import SERVICE_TOKEN, bearer

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# Every width the page gives a task's bar, recorded by the page itself (no sampling from the test's side).
RECORD_WIDTHS = """() => {
  window.__widths = {};
  new MutationObserver((changes) => {
    for (const c of changes) {
      const row = c.target.closest && c.target.closest('tr[data-task-id]');
      if (row && c.target.classList.contains('bar-fill')) {
        (window.__widths[row.dataset.taskId] ||= []).push(Number(c.target.dataset.percentage));
      }
    }
  }).observe(document.body, {subtree: true, attributes: true, attributeFilter: ['data-percentage']});
}"""


def _chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run must install Debian's chromium")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI runs this test")


@pytest.mark.integration
def test_the_dashboard_shows_live_progress_to_100_percent_cancels_and_rings_the_bell(
    api_server: str, celery_worker: subprocess.Popen[bytes], worker_store: Any
) -> None:
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    http = httpx.Client(base_url=api_server, headers=bearer(SERVICE_TOKEN), timeout=30)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{api_server}/#token={SERVICE_TOKEN}&user=alice")
            page.wait_for_selector("#conn[data-state=live]")
            page.evaluate(RECORD_WIDTHS)

            # Given a counting task that runs for a few seconds, and a long one to cancel
            quick = http.post("/api/tasks/tasks.diagnostics.count", json={"n": 30, "delay": 0.1}).json()["task_id"]
            slow = http.post("/api/tasks/tasks.diagnostics.count", json={"n": 100_000, "delay": 0.05}).json()[
                "task_id"]

            # Then the quick task's bar moves through intermediate widths and reaches 100%
            row = f'tr[data-task-id="{quick}"]'
            page.wait_for_selector(f'{row}[data-status="completed"]', timeout=60_000)
            assert page.get_attribute(f"{row} .bar-fill", "data-percentage") == "100"
            assert page.inner_text(f"{row} .pct") == "100%"
            widths = page.evaluate(f"window.__widths[{quick!r}] || []")
            assert any(0 < w < 100 for w in widths), widths
            assert widths == sorted(widths) and widths[-1] == 100

            # And a task made of steps shows each step's state
            stepped = worker_store.create_task("tasks.demo.pipeline", 3, symbol="7203.T").task_id
            reporter = ProgressReporter(worker_store, stepped, interval=0)
            reporter.start(total=3, message="pipeline")
            reporter.define_steps([StepDefinition(name="download", estimated_ms=2_000), "compute", "save"])
            with reporter.step("download"):
                reporter.update(1)
            compute = reporter.step("compute")
            compute.__enter__()
            stepped_row = f'tr[data-task-id="{stepped}"]'
            page.wait_for_selector(f'{stepped_row} .steps li[data-status="running"]')
            assert page.eval_on_selector_all(f"{stepped_row} .steps li", "els => els.map(e => e.dataset.status)") == \
                ["success", "running", "pending"]

            # When the cancel button of the running slow task is clicked
            slow_row = f'tr[data-task-id="{slow}"]'
            page.wait_for_selector(f'{slow_row}[data-status="running"]', timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "dashboard-running.png"), full_page=True)
            compute.__exit__(None, None, None)
            reporter.complete({"saved": 3})
            page.click(f"{slow_row} button.cancel")
            # Then the row and the record say cancelled
            page.wait_for_selector(f'{slow_row}[data-status="cancelled"]', timeout=30_000)
            assert http.get(f"/internal/task/{slow}/status").json()["status"] == "cancelled"
            assert page.is_hidden(f"{slow_row} button.cancel")

            # And the status filter shows only the cancelled one
            page.click('#filters button[data-filter="cancelled"]')
            assert page.is_visible(slow_row) and page.is_hidden(row)
            page.click('#filters button[data-filter=""]')

            # And a notification for the bell's user rings the bell
            http.post("/notifications", json={"user_id": "alice", "type": "success", "title": "Backtest done",
                                              "message": "Sharpe 1.4"})
            page.wait_for_selector("#bell-count:not([hidden])")
            assert page.inner_text("#bell-count") == "1"
            page.click("#bell-button")
            assert "Backtest done" in page.inner_text("#notifications")

            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        finally:
            browser.close()
            http.close()
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 0
