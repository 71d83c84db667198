// taskrunner dashboard: plain JS, no build step. Pages of tasks from GET /internal/tasks/search (the server's
// filters, paging and counts), live changes over WS /internal/ws/tasks for operators (a user's token polls its own
// tasks), the bell over WS /ws/notifications/{user}. The token comes from #token=... (then kept in sessionStorage)
// or the login form. The detail view is detail.js.
"use strict";

const TERMINAL = new Set(["completed", "error", "cancelled"]);
const RETRYABLE = new Set(["error", "cancelled"]);
const PAGE_SIZE = 50;
const state = {
  token: "", user: "", operator: true, page: 1, pages: 1, total: 0,
  filters: { status: "", task_type: "", symbol: "", created_from: "", created_to: "" },
  tasks: new Map(), notes: new Map(), taskSocket: null, bellSocket: null, refreshTimer: null, loading: null,
};
const $ = (sel) => document.querySelector(sel);

function readCredentials() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("token")) {
    sessionStorage.setItem("taskrunner.token", params.get("token"));
    if (params.get("user")) sessionStorage.setItem("taskrunner.user", params.get("user"));
    history.replaceState(null, "", location.pathname + location.search);  // keep the token out of the address bar
  }
  state.token = sessionStorage.getItem("taskrunner.token") || "";
  const claims = jwtClaims(state.token);
  // The service token is not a JWT; an admin JWT sees everything; any other JWT is a user who sees their own.
  state.operator = claims === null || claims.role === "admin";
  state.user = sessionStorage.getItem("taskrunner.user") || (claims && claims.sub) || "";
}

function jwtClaims(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try { return JSON.parse(atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"))); } catch { return null; }
}

function wsUrl(path, params = {}) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("token", state.token);
  for (const [k, v] of Object.entries(params)) if (v) url.searchParams.set(k, v);
  return url.toString();
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method, headers: { "Authorization": `Bearer ${state.token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(typeof data.detail === "string" ? data.detail : `${res.status}`);
  return data;
}

// --- the page of tasks ------------------------------------------------------------------------------------------

function filterParams() {
  const out = {};
  for (const [k, v] of Object.entries(state.filters)) if (v) out[k] = v;
  return out;
}

async function loadPage() {
  const params = new URLSearchParams({ ...filterParams(), page: String(state.page), limit: String(PAGE_SIZE) });
  const request = api("GET", `/internal/tasks/search?${params}`);
  state.loading = request;
  const data = await request;
  if (state.loading !== request) return;  // a newer load started meanwhile: its answer wins
  state.pages = data.pagination.pages;
  state.total = data.pagination.total;
  if (state.page > state.pages) { state.page = state.pages; return loadPage(); }
  const keep = new Set(data.tasks.map((t) => t.task_id));
  for (const row of [...document.querySelectorAll("#rows tr")]) {
    if (!keep.has(row.dataset.taskId)) { row.remove(); state.tasks.delete(row.dataset.taskId); }
  }
  let previous = null;
  for (const task of data.tasks) {
    const row = upsert(task);
    if (previous ? previous.nextElementSibling !== row : $("#rows").firstElementChild !== row) {
      if (previous) previous.after(row); else $("#rows").prepend(row);
    }
    previous = row;
  }
  renderCounts(data.counts);
  renderPager();
}

function scheduleRefresh(delay = 300) {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    loadPage().catch((err) => console.warn("refresh failed", err));
  }, delay);
}

function renderCounts(counts) {
  const all = Object.values(counts).reduce((a, b) => a + b, 0);
  for (const el of document.querySelectorAll("[data-count]")) {
    el.textContent = el.dataset.count === "" ? all : (counts[el.dataset.count] || 0);
  }
  $("#tasks").hidden = state.tasks.size === 0;
  $("#empty").hidden = state.tasks.size !== 0;
}

function renderPager() {
  $("#pager").hidden = false;
  $("#page-info").textContent = `page ${state.page} of ${state.pages} · ${state.total} tasks`;
  $("#prev").disabled = state.page <= 1;
  $("#next").disabled = state.page >= state.pages;
}

function connectTasks(attempt = 0) {
  const ws = new WebSocket(wsUrl("/internal/ws/tasks"));
  state.taskSocket = ws;
  setConn("connecting");
  ws.onopen = () => { attempt = 0; setConn("live"); };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "tasks_snapshot") {
      scheduleRefresh(0);  // (re)connected: whatever was missed is in the server's page
    } else if (msg.type === "progress_update" && msg.task) {
      if (state.tasks.has(msg.task.task_id)) upsert(msg.task);
      // A new task or a status change moves tasks between pages and counts: the server's page says where.
      if (msg.kind === "created" || msg.kind === "status") scheduleRefresh();
    }
  };
  ws.onclose = (ev) => {
    setConn("down");
    if (ev.code === 1008 || ev.code === 4401 || ev.code === 4403) return showLogin("The token was refused.");
    setTimeout(() => connectTasks(attempt + 1), Math.min(10000, 500 * 2 ** attempt));
  };
}

function pollOwnTasks() {
  // A user's token may not open the all-tasks stream: their page is re-read every two seconds instead.
  setConn("live");
  setInterval(() => loadPage().catch(() => setConn("down")), 2000);
}

function setConn(s) {
  const el = $("#conn");
  el.dataset.state = s;
  el.textContent = { connecting: "connecting…", live: "live", down: "reconnecting…" }[s];
}

function upsert(task) {
  let row = $(`#rows tr[data-task-id="${CSS.escape(task.task_id)}"]`);
  const known = state.tasks.get(task.task_id);
  // A page read can be older than a live update already shown: never move a row back in time.
  if (row && known && known.updated_at && task.updated_at && task.updated_at < known.updated_at) return row;
  if (!row) {
    row = $("#row-template").content.firstElementChild.cloneNode(true);
    row.dataset.taskId = task.task_id;
    row.querySelector(".cancel").addEventListener("click", () => cancelTask(task.task_id, row));
    row.querySelector(".retry").addEventListener("click", () => retryTask(task.task_id));
    row.querySelector(".details").addEventListener("click", () => window.openDetail(task.task_id));
    row.querySelector(".id").addEventListener("click", () => window.openDetail(task.task_id));
    $("#rows").prepend(row);
  }
  state.tasks.set(task.task_id, task);
  const pct = task.progress.percentage;
  row.dataset.status = task.status;
  row.querySelector(".type").textContent = task.task_type;
  row.querySelector(".symbol").textContent = task.symbol || "";
  row.querySelector(".id").textContent = task.task_id.slice(0, 8);
  row.querySelector(".id").title = task.task_id;
  const status = row.querySelector(".status");
  status.textContent = task.status;
  status.dataset.status = task.status;
  const fill = row.querySelector(".bar-fill");
  fill.style.width = `${pct}%`;
  fill.dataset.percentage = String(pct);
  row.querySelector(".bar").setAttribute("aria-valuenow", String(pct));
  row.querySelector(".pct").textContent = `${pct}%`;
  row.querySelector(".items").textContent = task.progress.total ? `${task.progress.current}/${task.progress.total}` : "";
  row.querySelector(".message").textContent = task.error_message || task.current_status || "";
  row.querySelector(".rate").textContent = task.rate_per_second == null ? "–" : `${formatNumber(task.rate_per_second)}/s`;
  row.querySelector(".eta").textContent = TERMINAL.has(task.status) ? "–" : formatEta(task.eta_seconds);
  const steps = row.querySelector(".steps");
  steps.replaceChildren(...task.steps.map((s) => {
    const li = document.createElement("li");
    li.dataset.status = s.status;
    li.textContent = s.elapsed_ms ? `${s.name} (${(s.elapsed_ms / 1000).toFixed(1)}s)` : s.name;
    return li;
  }));
  row.querySelector(".cancel").disabled = TERMINAL.has(task.status);
  row.querySelector(".retry").hidden = !RETRYABLE.has(task.status) || Boolean(task.metadata && task.metadata.args === undefined);
  applyFilter(row);
  return row;
}

function applyFilter(row) {
  // A row whose status left the filtered one hides now; the next page read drops it.
  row.classList.toggle("hidden", state.filters.status !== "" && row.dataset.status !== state.filters.status);
}

function formatNumber(x) { return x >= 100 ? Math.round(x).toString() : x.toFixed(x >= 10 ? 1 : 2); }
function formatEta(s) {
  if (s == null) return "–";
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.ceil(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

async function cancelTask(taskId, row) {
  const button = row.querySelector(".cancel");
  button.disabled = true;
  try {
    await api("POST", `/internal/task/${encodeURIComponent(taskId)}/cancel`);
  } catch (err) {
    button.disabled = false;
    alert(`Cancel failed: ${err.message}`);
  }
}

async function retryTask(taskId) {
  try {
    const res = await api("POST", `/internal/task/${encodeURIComponent(taskId)}/retry`);
    scheduleRefresh(0);
    window.openDetail(res.task_id);
    return res.task_id;
  } catch (err) {
    alert(`Retry failed: ${err.message}`);
    return null;
  }
}
window.retryTask = retryTask;

// --- filters, paging, bulk actions ------------------------------------------------------------------------------

function isoOrEmpty(local) { return local ? new Date(local).toISOString() : ""; }

function setupFilters() {
  for (const button of document.querySelectorAll("#filters button")) {
    button.addEventListener("click", () => {
      state.filters.status = button.dataset.filter;
      state.page = 1;
      for (const b of document.querySelectorAll("#filters button")) b.classList.toggle("active", b === button);
      for (const row of document.querySelectorAll("#rows tr")) applyFilter(row);  // at once; the server's page follows
      loadPage();
    });
  }
  $("#search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    Object.assign(state.filters, {
      task_type: $("#f-type").value.trim(), symbol: $("#f-symbol").value.trim(),
      created_from: isoOrEmpty($("#f-from").value), created_to: isoOrEmpty($("#f-to").value),
    });
    state.page = 1;
    loadPage().catch((err) => alert(`Filter refused: ${err.message}`));
  });
  $("#f-clear").addEventListener("click", () => {
    for (const id of ["#f-type", "#f-symbol", "#f-from", "#f-to"]) $(id).value = "";
    $("#search").requestSubmit();
  });
  $("#prev").addEventListener("click", () => { state.page = Math.max(1, state.page - 1); loadPage(); });
  $("#next").addEventListener("click", () => { state.page = Math.min(state.pages, state.page + 1); loadPage(); });
}

function bulkBody(dryRun) {
  const filter = filterParams();
  return { action: $("#bulk-action").value, filter, dry_run: dryRun };
}

function setupBulk() {
  $("#bulk-run").addEventListener("click", async () => {
    $("#bulk-result").textContent = "";
    try {
      const dry = await api("POST", "/internal/tasks/bulk", bulkBody(true));
      const action = $("#bulk-action").selectedOptions[0].textContent;
      $("#bulk-text").textContent = dry.matched
        ? `${action} ${dry.matched} matching task${dry.matched === 1 ? "" : "s"}?`
        : `No task matches: nothing to ${action.toLowerCase()}.`;
      $("#bulk-yes").hidden = dry.matched === 0;
      $("#bulk-confirm").dataset.matched = String(dry.matched);
      $("#bulk-confirm").hidden = false;
    } catch (err) {
      $("#bulk-result").textContent = `refused: ${err.message}`;
    }
  });
  $("#bulk-no").addEventListener("click", () => { $("#bulk-confirm").hidden = true; });
  $("#bulk-yes").addEventListener("click", async () => {
    $("#bulk-confirm").hidden = true;
    try {
      const done = await api("POST", "/internal/tasks/bulk", bulkBody(false));
      const failed = Object.keys(done.failed).length;
      $("#bulk-result").textContent = `${done.action}: ${done.done} done` + (failed ? `, ${failed} not done` : "");
    } catch (err) {
      $("#bulk-result").textContent = `failed: ${err.message}`;
    }
    scheduleRefresh(0);
  });
}

// --- notifications ------------------------------------------------------------------------------------------

function connectBell(attempt = 0) {
  if (!state.user) return;
  $("#bell").hidden = false;
  const ws = new WebSocket(wsUrl(`/ws/notifications/${encodeURIComponent(state.user)}`));
  state.bellSocket = ws;
  ws.onopen = () => { attempt = 0; };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.event === "marked_read") {
      for (const id of msg.ids) { const n = state.notes.get(id); if (n) n.read = true; }
      if (msg.ids.length === 0) for (const n of state.notes.values()) n.read = true;
    } else if (msg.id) {
      state.notes.set(msg.id, msg);
    }
    renderBell();
  };
  ws.onclose = (ev) => {
    if (ev.code === 4401 || ev.code === 4403) return;
    setTimeout(() => connectBell(attempt + 1), Math.min(10000, 500 * 2 ** attempt));
  };
}

function renderBell() {
  const notes = [...state.notes.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  const unread = notes.filter((n) => !n.read).length;
  const badge = $("#bell-count");
  badge.textContent = String(unread);
  badge.hidden = unread === 0;
  $("#notifications").replaceChildren(...notes.slice(0, 50).map((n) => {
    const li = document.createElement("li");
    li.dataset.id = n.id;
    li.dataset.type = n.type;
    li.className = n.read ? "" : "unread";
    const title = document.createElement("div");
    title.className = "title";
    title.textContent = n.title;
    const body = document.createElement("div");
    body.textContent = n.message;
    li.append(title, body);
    li.addEventListener("click", () => markRead([n.id]));
    return li;
  }));
}

function markRead(ids) {
  const ws = state.bellSocket;
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify(ids ? { action: "mark_read", ids } : { action: "mark_all_read" }));
  }
}

function setupBell() {
  $("#bell-button").addEventListener("click", () => { $("#bell-panel").hidden = !$("#bell-panel").hidden; });
  $("#mark-all").addEventListener("click", () => markRead(null));
}

// --- start --------------------------------------------------------------------------------------------------

function showLogin(reason) {
  $("#login").hidden = false;
  if (reason) $("#login .hint").textContent = reason;
}

function start() {
  setupFilters();
  setupBulk();
  setupBell();
  readCredentials();
  $("#login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem("taskrunner.token", $("#token-input").value.trim());
    sessionStorage.setItem("taskrunner.user", $("#user-input").value.trim());
    location.reload();
  });
  if (!state.token) return showLogin();
  document.body.dataset.mode = state.operator ? "operator" : "user";
  if (!state.operator) {
    $("#whoami").hidden = false;
    $("#whoami").textContent = `${state.user}'s tasks`;
  }
  // A refused socket handshake looks like a network error to a browser: check the token over HTTP first.
  loadPage()
    .then(() => {
      $("#toolbar").hidden = false;
      if (state.operator) connectTasks(); else pollOwnTasks();
      connectBell();
    })
    .catch((err) => showLogin(`The token was refused: ${err.message}`));
}

start();
