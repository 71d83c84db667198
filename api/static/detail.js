// The task detail panel: GET /internal/task/{id}/detail (arguments, error and traceback, attempts, steps,
// children, timeline), re-read every two seconds while the task runs, and its log live over
// GET /internal/sse/task/{id}/logs (EventSource resumes after the last line it got).
"use strict";

const detail = { id: null, source: null, timer: null, lastLog: null };

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) node.dataset[k] = v;
  return node;
}

function when(iso) { return iso ? new Date(iso).toLocaleString() : "–"; }

function row(...cells) {
  const tr = document.createElement("tr");
  for (const c of cells) tr.append(c instanceof Node ? wrapCell(c) : el("td", c));
  return tr;
}

function wrapCell(node) { const td = document.createElement("td"); td.append(node); return td; }

function taskLink(id, label) {
  const a = el("a", label || id.slice(0, 8));
  a.href = "#";
  a.title = id;
  a.addEventListener("click", (ev) => { ev.preventDefault(); openDetail(id); });
  return a;
}

function renderDetail(d) {
  const t = d.task;
  document.querySelector("#d-title").textContent = t.task_name || t.task_type;
  const status = document.querySelector("#d-status");
  status.textContent = t.status;
  status.dataset.status = t.status;
  document.querySelector("#detail").dataset.status = t.status;
  document.querySelector("#d-id").textContent = t.task_id;
  const links = document.querySelector("#d-links");
  links.replaceChildren();
  const add = (label, id) => { if (id) links.append(`${label} `, taskLink(id), "  "); };
  add("retry of", d.retry_of);
  add("retried as", d.retried_as);
  add("parent", d.parent_task_id);
  if (d.owner) links.append(`owner ${d.owner}`);
  document.querySelector("#d-args").textContent = d.arguments ? JSON.stringify(d.arguments, null, 2) : "not recorded";
  document.querySelector("#d-retry").hidden = !d.retryable || Boolean(d.retried_as);
  const error = d.error ? [d.error.message || d.error.last_error, d.error.traceback].filter(Boolean).join("\n\n") : "";
  document.querySelector("#d-error").textContent = error;
  document.querySelector("#d-error-box").hidden = !error;
  const hasResults = Object.keys(t.results || {}).length > 0;
  document.querySelector("#d-results").textContent = hasResults ? JSON.stringify(t.results, null, 2) : "";
  document.querySelector("#d-results-box").hidden = !hasResults;
  document.querySelector("#d-attempts").replaceChildren(...d.attempts.map((a) =>
    row(a.attempt, a.worker || "?", when(a.started_at), when(a.ended_at), a.outcome || "running")));
  document.querySelector("#d-steps").replaceChildren(...d.steps.map((s) =>
    el("li", `${s.name} · ${s.status}${s.elapsed_ms ? ` · ${(s.elapsed_ms / 1000).toFixed(1)}s` : ""}`,
       { status: s.status })));
  document.querySelector("#d-steps-box").hidden = d.steps.length === 0;
  document.querySelector("#d-children").replaceChildren(...d.children.map((c) => {
    const tr = row(taskLink(c.task_id, `${c.task_type} ${c.task_id.slice(0, 8)}`), c.symbol || "", c.status,
                   `${c.progress.percentage}%`);
    tr.dataset.status = c.status;
    return tr;
  }));
  document.querySelector("#d-children-box").hidden = d.children.length === 0;
  document.querySelector("#d-timeline").replaceChildren(...d.timeline.filter((e) => e.kind !== "progress")
    .map((e) => el("li", `${when(e.timestamp)} · ${e.status}${e.step ? ` · ${e.step}` : ""} · ${e.message || ""}`,
                   { kind: e.kind })));
}

function appendLog(line) {
  if (detail.lastLog && line.id <= detail.lastLog) return;
  detail.lastLog = line.id;
  const li = el("li", `${new Date(line.timestamp).toLocaleTimeString()} ${line.level} ${line.logger}: ${line.message}`,
                { level: line.level, id: line.id });
  document.querySelector("#d-logs").append(li);
}

function followLog(taskId) {
  const url = new URL(`/internal/sse/task/${encodeURIComponent(taskId)}/logs`, location.href);
  url.searchParams.set("token", sessionStorage.getItem("taskrunner.token") || "");
  const source = new EventSource(url);
  detail.source = source;
  document.querySelector("#d-log-state").textContent = "live";
  source.addEventListener("log", (ev) => { if (detail.id === taskId) appendLog(JSON.parse(ev.data)); });
  source.addEventListener("end", () => {
    source.close();
    if (detail.id === taskId) document.querySelector("#d-log-state").textContent = "task ended";
  });
}

async function loadDetail(taskId) {
  const token = sessionStorage.getItem("taskrunner.token") || "";
  const res = await fetch(`/internal/task/${encodeURIComponent(taskId)}/detail`,
                          { headers: { "Authorization": `Bearer ${token}` } });
  const data = await res.json();
  if (!res.ok) throw new Error(data.detail || String(res.status));
  if (detail.id === taskId) renderDetail(data);
  return data;
}

function closeDetail() {
  if (detail.source) detail.source.close();
  if (detail.timer) clearInterval(detail.timer);
  Object.assign(detail, { id: null, source: null, timer: null, lastLog: null });
  document.querySelector("#detail").hidden = true;
}

async function openDetail(taskId) {
  closeDetail();
  detail.id = taskId;
  document.querySelector("#d-logs").replaceChildren();
  document.querySelector("#detail").hidden = false;
  try {
    const d = await loadDetail(taskId);
    for (const line of d.logs) appendLog(line);
    followLog(taskId);  // every line after the ones the detail carried (the page dedups by id)
    detail.timer = setInterval(() => {
      loadDetail(taskId).then((fresh) => {
        if (["completed", "error", "cancelled"].includes(fresh.task.status) && detail.timer) {
          clearInterval(detail.timer);
          detail.timer = null;
        }
      }).catch(() => {});
    }, 2000);
  } catch (err) {
    document.querySelector("#d-title").textContent = `could not load ${taskId}: ${err.message}`;
  }
}

document.querySelector("#d-close").addEventListener("click", closeDetail);
document.querySelector("#d-retry").addEventListener("click", () => { if (detail.id) window.retryTask(detail.id); });
window.openDetail = openDetail;
