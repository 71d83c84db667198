"""The operators' dashboard in a real headless Chromium, in one page session: paging past 100 tasks with counts equal
to the server's summary, a creation-time filter, the detail view with its log arriving live, retry from the button,
bulk cancel behind a confirmation, and a user's token that shows only that user's tasks. Screenshots are kept under
test-artifacts/."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import httpx
import pytest

from api.auth import Authenticator
from tests.api.conftest import JWT_SECRET, SERVICE_TOKEN, bearer
from tests.api.test_dashboard_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, _chromium_or_skip
from tests.helpers import wait_until

TOKENS = Authenticator(service_token=SERVICE_TOKEN, jwt_secret=JWT_SECRET)
# A local datetime-local value (seconds) for an epoch-ms instant, computed in the browser's own time zone.
LOCAL_INPUT = """(ms) => { const d = new Date(ms), p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:` +
         `${p(d.getSeconds())}`; }"""
ROW_IDS = "els => els.map(e => e.dataset.taskId)"


def _row(task_id: str) -> str:
    return f'#rows tr[data-task-id="{task_id}"]'


@pytest.mark.integration
def test_operators_page_filter_inspect_retry_and_bulk_cancel_tasks_and_a_user_sees_only_their_own(
    api_server: str, celery_worker: subprocess.Popen[bytes], worker_store: Any
) -> None:
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    http = httpx.Client(base_url=api_server, headers=bearer(SERVICE_TOKEN), timeout=30)
    ARTIFACTS.mkdir(exist_ok=True)
    # Given 230 stored tasks, 7 of them failed, and 5 created a second later
    early = [worker_store.create_task("count", 10, symbol="7203.T").task_id for _ in range(230)]
    for tid in early[:7]:
        worker_store.update_progress(tid, "error", error_message="boom")
    boundary = int(time.time()) + 1
    time.sleep(boundary - time.time() + 0.05)
    late = [worker_store.create_task("count", 10).task_id for _ in range(5)]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{api_server}/#token={SERVICE_TOKEN}")
            page.wait_for_selector("#conn[data-state=live]")

            # Then the counts are the server's summary, and paging visits every task once
            page.wait_for_function("document.querySelector('#page-info').textContent.includes('235 tasks')")
            summary = http.get("/internal/tasks").json()["summary"]
            shown = {el.get_attribute("data-count"): int(el.inner_text())
                     for el in page.query_selector_all("#filters [data-count]")}
            assert shown == {"": sum(summary.values()), **summary} and shown["error"] == 7
            seen: list[str] = []
            for number in range(1, 6):
                page.wait_for_function(f"document.querySelector('#page-info').textContent.startsWith('page {number} ')")
                page.wait_for_function(f"document.querySelectorAll('#rows tr').length === {50 if number < 5 else 35}")
                seen += page.eval_on_selector_all("#rows tr", ROW_IDS)
                if number == 2:
                    page.screenshot(path=str(ARTIFACTS / "dashboard-paging.png"), full_page=False)
                if number < 5:
                    page.click("#next")
            assert page.is_disabled("#next") and len(seen) == len(set(seen)) == 235
            assert set(seen) == set(early) | set(late)

            # When filtering by creation time from the boundary second
            page.fill("#f-from", page.evaluate(LOCAL_INPUT, boundary * 1000))
            page.click("#f-apply")
            # Then only the 5 tasks created after it are listed, and counted
            page.wait_for_function("document.querySelector('#page-info').textContent === 'page 1 of 1 · 5 tasks'")
            assert sorted(page.eval_on_selector_all("#rows tr", ROW_IDS)) == sorted(late)
            assert page.inner_text('#filters [data-count=""]') == "5"
            page.click("#f-clear")
            page.wait_for_function("document.querySelector('#page-info').textContent.includes('235 tasks')")

            # When a chatty task runs and its detail is opened
            chatty = http.post("/api/tasks/tasks.diagnostics.chatty",
                               json={"lines": 10, "delay": 0.5, "note": "token=abc123"}).json()["task_id"]
            page.wait_for_selector(f'{_row(chatty)}[data-status="running"]', timeout=30_000)
            page.click(f"{_row(chatty)} button.details")
            page.wait_for_selector("#d-logs li")
            # Then its log lines arrive while it runs (masked), until the last one
            first_seen = len(page.query_selector_all("#d-logs li"))
            assert first_seen < 10 and page.get_attribute("#detail", "data-status") == "running"
            page.wait_for_function("[...document.querySelectorAll('#d-logs li')]"
                                   ".some(li => li.textContent.includes('line 10 of 10'))", timeout=30_000)
            lines = page.eval_on_selector_all("#d-logs li", "els => els.map(e => e.textContent)")
            assert [f"line {i} of 10" in " ".join(lines) for i in range(1, 11)] == [True] * 10
            assert "abc123" not in " ".join(lines) and "token=***" in lines[0]
            page.wait_for_selector('#detail[data-status="completed"]', timeout=30_000)
            assert page.inner_text("#d-log-state") == "task ended"
            page.screenshot(path=str(ARTIFACTS / "dashboard-detail.png"), full_page=False)
            page.click("#d-close")

            # When a failed task's Retry button is clicked
            failed = http.post("/api/tasks/tasks.diagnostics.count", json={"n": 3, "fail_at": 1}).json()["task_id"]
            page.wait_for_selector(f'{_row(failed)}[data-status="error"]', timeout=30_000)
            page.click(f"{_row(failed)} button.retry")
            # Then the retry's detail opens, naming the original, and the original names the retry
            page.wait_for_function("document.querySelector('#d-links').textContent.includes('retry of')")
            retry = page.inner_text("#d-id")
            assert retry != failed and page.get_attribute("#d-links a", "title") == failed
            assert http.get(f"/internal/task/{failed}/detail").json()["retried_as"] == retry
            page.wait_for_selector(_row(retry), timeout=30_000)
            page.click("#d-close")

            # When three long tasks of one symbol are bulk-cancelled, declining once first
            longs = [http.post("/api/tasks/tasks.diagnostics.count",
                               json={"n": 100_000, "delay": 0.05, "symbol": "9984.T"}).json()["task_id"]
                     for _ in range(3)]
            page.fill("#f-symbol", "9984.T")
            page.click("#f-apply")
            page.wait_for_function("document.querySelector('#page-info').textContent.endsWith(' 3 tasks')")
            page.select_option("#bulk-action", "cancel")
            page.click("#bulk-run")
            page.wait_for_selector("#bulk-confirm:not([hidden])")
            assert page.inner_text("#bulk-text") == "Cancel 3 matching tasks?"
            page.click("#bulk-no")
            assert page.is_hidden("#bulk-confirm")
            assert not any(http.get(f"/internal/task/{t}/status").json()["status"] == "cancelled" for t in longs)
            page.click("#bulk-run")
            page.wait_for_selector("#bulk-confirm:not([hidden])")
            page.click("#bulk-yes")
            # Then every one of them is cancelled, in the records and on the page
            page.wait_for_function("document.querySelector('#bulk-result').textContent === 'cancel: 3 done'")
            for t in longs:
                page.wait_for_selector(f'{_row(t)}[data-status="cancelled"]', timeout=30_000)
                assert http.get(f"/internal/task/{t}/status").json()["status"] == "cancelled"
            page.click("#f-clear")

            # When a user opens the dashboard with their own token
            alice, bob = TOKENS.issue("alice"), TOKENS.issue("bob")
            hers = [httpx.post(f"{api_server}/api/tasks/tasks.diagnostics.count", json={"n": 2},
                               headers=bearer(alice), timeout=30).json()["task_id"] for _ in range(2)]
            httpx.post(f"{api_server}/api/tasks/tasks.diagnostics.count", json={"n": 2}, headers=bearer(bob),
                       timeout=30)
            user_page = browser.new_context(viewport={"width": 1400, "height": 700}).new_page()
            user_page.goto(f"{api_server}/#token={alice}")
            # Then only her tasks are listed and counted
            user_page.wait_for_function("document.querySelectorAll('#rows tr').length === 2")
            assert sorted(user_page.eval_on_selector_all("#rows tr", ROW_IDS)) == sorted(hers)
            assert user_page.inner_text('#filters [data-count=""]') == "2"
            assert user_page.inner_text("#whoami") == "alice's tasks" and user_page.is_hidden("#f-type")
            wait_until(lambda: user_page.eval_on_selector_all("#rows tr", ROW_IDS) and
                       sorted(user_page.eval_on_selector_all("#rows tr", ROW_IDS)) == sorted(hers), timeout=10,
                       what="her rows after a poll")
            user_page.screenshot(path=str(ARTIFACTS / "dashboard-user.png"), full_page=False)
        finally:
            browser.close()
            http.close()
    assert (ARTIFACTS / "dashboard-detail.png").stat().st_size > 0
