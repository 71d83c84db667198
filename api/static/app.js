// taskrunner dashboard: plain JS, no build step. Live tasks over WS /internal/ws/tasks, the bell over
// WS /ws/notifications/{user}. The token comes from #token=... (then kept in sessionStorage) or the login form.
"use strict";

const TERMINAL = new Set(["completed", "error", "cancelled"]);
const state = { token: "", user: "", filter: "", tasks: new Map(), notes: new Map(), taskSocket: null, bellSocket: null };
const $ = (sel) => document.querySelector(sel);

function readCredentials() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("token")) {
    sessionStorage.setItem("taskrunner.token", params.get("token"));
    if (params.get("user")) sessionStorage.setItem("taskrunner.user", params.get("user"));
    history.replaceState(null, "", location.pathname + location.search);  // keep the token out of the address bar
  }
  state.token = sessionStorage.getItem("taskrunner.token") || "";
  state.user = sessionStorage.getItem("taskrunner.user") || jwtSubject(state.token) || "";
}

function jwtSubject(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return "";
  try { return JSON.parse(atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"))).sub || ""; } catch { return ""; }
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
  if (!res.ok) throw new Error(data.detail || `${res.status}`);
  return data;
}

// --- tasks --------------------------------------------------------------------------------------------------

function connectTasks(attempt = 0) {
  const ws = new WebSocket(wsUrl("/internal/ws/tasks"));
  state.taskSocket = ws;
  setConn("connecting");
  ws.onopen = () => { attempt = 0; setConn("live"); };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "tasks_snapshot") {
      state.tasks.clear();
      $("#rows").replaceChildren();
      for (const task of msg.tasks.slice().reverse()) upsert(task);
    } else if (msg.type === "progress_update" && msg.task) {
      upsert(msg.task);
    }
    refreshCounts();
  };
  ws.onclose = (ev) => {
    setConn("down");
    if (ev.code === 1008 || ev.code === 4401 || ev.code === 4403) return showLogin("The token was refused.");
    setTimeout(() => connectTasks(attempt + 1), Math.min(10000, 500 * 2 ** attempt));
  };
}

function setConn(s) {
  const el = $("#conn");
  el.dataset.state = s;
  el.textContent = { connecting: "connecting…", live: "live", down: "reconnecting…" }[s];
}

function upsert(task) {
  let row = $(`#rows tr[data-task-id="${CSS.escape(task.task_id)}"]`);
  if (!row) {
    row = $("#row-template").content.firstElementChild.cloneNode(true);
    row.dataset.taskId = task.task_id;
    row.querySelector(".cancel").addEventListener("click", () => cancelTask(task.task_id, row));
    $("#rows").prepend(row);  // newest first
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
  applyFilter(row);
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

function applyFilter(row) {
  row.classList.toggle("hidden", state.filter !== "" && row.dataset.status !== state.filter);
}

function refreshCounts() {
  const counts = { "": 0 };
  for (const task of state.tasks.values()) {
    counts[""] += 1;
    counts[task.status] = (counts[task.status] || 0) + 1;
  }
  for (const el of document.querySelectorAll("[data-count]")) el.textContent = counts[el.dataset.count] || 0;
  const visible = [...document.querySelectorAll("#rows tr")].some((r) => !r.classList.contains("hidden"));
  $("#tasks").hidden = state.tasks.size === 0;
  $("#empty").hidden = visible;
}

function setupFilters() {
  for (const button of document.querySelectorAll("#filters button")) {
    button.addEventListener("click", () => {
      state.filter = button.dataset.filter;
      for (const b of document.querySelectorAll("#filters button")) b.classList.toggle("active", b === button);
      for (const row of document.querySelectorAll("#rows tr")) applyFilter(row);
      refreshCounts();
    });
  }
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
  setupBell();
  readCredentials();
  $("#login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem("taskrunner.token", $("#token-input").value.trim());
    sessionStorage.setItem("taskrunner.user", $("#user-input").value.trim());
    location.reload();
  });
  if (!state.token) return showLogin();
  // A refused socket handshake looks like a network error to a browser: check the token over HTTP first.
  api("GET", "/internal/tasks?limit=1")
    .then(() => { connectTasks(); connectBell(); })
    .catch((err) => showLogin(`The token was refused: ${err.message}`));
}

start();
