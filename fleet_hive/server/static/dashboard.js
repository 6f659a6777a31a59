// fleet-hive dashboard: plain JavaScript, no build step, no outside resources.
// The token comes from the URL fragment (#token=..., never sent to the server) and goes on
// every API call as a bearer token. Events arrive over /api/v1/events/stream, read with
// fetch's ReadableStream (EventSource cannot send an Authorization header); each one
// schedules a refresh of the views it may change.
"use strict";

const API = "/api/v1";
const MAX_MISSIONS = 20;
const FEED_MAX = 200;
const FEED_BACKLOG = 30;
const STATUS_COLORS = ["pending", "assigned", "in_progress", "blocked", "completed", "failed",
                       "cancelled"];
let token = null;
let lastSeq = null;
let refreshTimer = null;
let refreshing = false;
let again = false;

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k === "style") node.setAttribute("style", v);
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function color(status) {
  return getComputedStyle(document.documentElement)
    .getPropertyValue("--" + (STATUS_COLORS.includes(status) ? status : "pending")).trim();
}

function readToken() {
  const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
  const fromHash = hash.get("token");
  if (fromHash) {
    sessionStorage.setItem("fleet-hive-token", fromHash);
    history.replaceState(null, "", location.pathname);  // out of the address bar
    return fromHash;
  }
  return sessionStorage.getItem("fleet-hive-token");
}

async function api(path) {
  const response = await fetch(API + path, {headers: {"Authorization": "Bearer " + token}});
  if (response.status === 401) { showLogin("the token was refused"); throw new Error("401"); }
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response.json();
}

function showLogin(why) {
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = why || "";
  setConn("down", "no token");
}

function setConn(state, text) {
  const c = $("conn");
  c.className = state;
  c.textContent = text;
}

// -- views -----------------------------------------------------------------------------
function pill(status) {
  return el("span", {class: "pill", style: "background:" + color(status)}, status);
}

function missionView(m) {
  const box = el("div", {class: "mission", "data-mission-id": m.id, "data-status": m.status});
  box.append(el("div", {class: "head"}, el("span", {class: "title"}, m.title), pill(m.status),
                el("span", {class: "id"}, m.id), el("span", {class: "muted"},
                m.progress + "% done")));
  const bar = el("div", {class: "bar"}, el("div", {style: "width:" + m.progress + "%"}));
  box.append(bar);
  const sorties = (m.sorties || []).filter((s) => !s.deleted);
  box.append(sorties.length ? graph(sorties) : el("div", {class: "empty"}, "no sorties"));
  return box;
}

// Sorties as a dependency graph: columns by depth (longest chain of dependencies before
// it), one box per sortie with its state and claimant, an arrow from each dependency.
function graph(sorties) {
  const byId = new Map(sorties.map((s) => [s.id, s]));
  const depth = new Map();
  function depthOf(s, seen) {
    if (depth.has(s.id)) return depth.get(s.id);
    if (seen.has(s.id)) return 0;  // a cycle (refused by the library; drawn flat anyway)
    seen.add(s.id);
    let d = 0;
    for (const dep of s.depends_on || []) {
      if (byId.has(dep)) d = Math.max(d, depthOf(byId.get(dep), seen) + 1);
    }
    depth.set(s.id, d);
    return d;
  }
  sorties.forEach((s) => depthOf(s, new Set()));
  const columns = [];
  for (const s of sorties) {
    const d = depth.get(s.id);
    (columns[d] = columns[d] || []).push(s);
  }
  const W = 170, H = 44, GX = 46, GY = 12;
  const pos = new Map();
  columns.forEach((col, x) => col.forEach((s, y) => pos.set(s.id, {
    x: x * (W + GX), y: y * (H + GY)})));
  const rows = Math.max(...columns.map((c) => (c ? c.length : 0)));
  const width = columns.length * (W + GX) - GX + 2;
  const height = rows * (H + GY) - GY + 2;
  const root = svg("svg", {class: "graph", width, height, viewBox: `-1 -1 ${width} ${height}`,
                           role: "img", "aria-label": "sortie dependency graph"});
  const defs = svg("defs");
  const marker = svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
                                markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"});
  marker.append(svg("path", {d: "M 0 0 L 10 5 L 0 10 z", fill: "#8a93a5"}));
  defs.append(marker);
  root.append(defs);
  for (const s of sorties) {
    for (const dep of s.depends_on || []) {
      const a = pos.get(dep), b = pos.get(s.id);
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
      root.append(svg("path", {class: "edge", d: `M ${x1} ${y1} C ${mx} ${y1} ${mx} ${y2} ` +
                               `${x2} ${y2}`, "marker-end": "url(#arrow)"}));
    }
  }
  for (const s of sorties) {
    const p = pos.get(s.id);
    const g = svg("g", {class: "sortie", transform: `translate(${p.x},${p.y})`,
                        "data-sortie-id": s.id, "data-status": s.status,
                        "data-claimed-by": s.claimed_by || ""});
    g.append(svg("title", {}, `${s.title}\n${s.id} · ${s.status}` +
                 (s.claimed_by ? ` · ${s.claimed_by}` : "") + ` · ${s.progress}%`));
    g.append(svg("rect", {width: W, height: H, rx: 6, fill: color(s.status)}));
    if (s.progress > 0 && s.status !== "completed") {
      g.append(svg("rect", {y: H - 4, width: W * s.progress / 100, height: 4, rx: 2,
                            fill: "rgba(255,255,255,.7)"}));
    }
    g.append(svg("text", {x: 8, y: 17}, clip(s.title, 24)));
    g.append(svg("text", {x: 8, y: 33, class: "sub"},
                 s.status + (s.claimed_by ? " · " + clip(s.claimed_by, 14) : "")));
    root.append(g);
  }
  return root;
}

function clip(text, n) {
  text = String(text || "");
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

function table(headers, rows, empty) {
  if (!rows.length) return el("div", {class: "empty"}, empty);
  const t = el("table", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h))));
  for (const r of rows) t.append(el("tr", {}, ...r.map((c) => el("td", {}, c))));
  return t;
}

function renderReservations(rows) {
  $("reservations").replaceChildren(table(["path", "holder", "mode", "expires"],
    rows.map((r) => [r.path, r.holder, r.mode + (r.conflict ? " !" : ""),
                     (r.expires_at || "").replace("T", " ").slice(0, 19)]),
    "no reservations"));
}

function renderProblems(status) {
  const out = [];
  const stale = status.stale || {};
  const staleRows = (stale.sorties || []).map((s) => [s.id || s.sortie_id,
    s.title || (s.sortie && s.sortie.title) || "", s.claimant || s.claimed_by || "",
    s.idle || ""]);
  out.push(el("div", {class: "muted"}, "stale (idle more than " + (stale.stale_after || "?") +
                      "): " + (stale.count || 0)));
  if (staleRows.length) out.push(table(["sortie", "title", "claimed by", "idle"], staleRows, ""));
  const conflicts = status.conflicts || [];
  out.push(el("div", {class: "muted"}, "open conflicts: " + conflicts.length));
  if (conflicts.length) {
    out.push(table(["where", "kind", "message"], conflicts.map((c) => [
      c.sortie_id || c.mission_id || c.path || "", c.kind, c.message]), ""));
  }
  const blocked = status.blocked || [];
  if (blocked.length) {
    out.push(el("div", {class: "muted"}, "blocked: " + blocked.length));
    out.push(table(["sortie", "status", "waits for"], blocked.map((s) => [
      s.title, s.status, s.status === "pending" ? (s.blocked_by || []).join(", ")
                                                 : (s.reason || "")]), ""));
  }
  $("problems").replaceChildren(...out);
}

async function refresh() {
  if (refreshing) { again = true; return; }
  refreshing = true;
  try {
    const [status, missions, reservations] = await Promise.all([
      api("/status"), api("/missions?limit=" + MAX_MISSIONS), api("/reservations")]);
    const shown = await Promise.all(missions.map((m) => api("/missions/" +
                                                            encodeURIComponent(m.id))));
    $("missions").replaceChildren(...(shown.length ? shown.map(missionView)
                                      : [el("div", {class: "empty"}, "no missions")]));
    renderReservations(reservations);
    renderProblems(status);
    document.body.setAttribute("data-refreshed", String(Date.now()));
  } catch (e) {
    console.warn("refresh failed", e);
  } finally {
    refreshing = false;
    if (again) { again = false; scheduleRefresh(); }
  }
}

function scheduleRefresh() {
  if (refreshTimer !== null) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 100);
}

function addToFeed(event) {
  const feed = $("feed");
  const when = (event.time || "").slice(11, 19);
  const what = event.data && (event.data.title || event.data.text || event.data.reason ||
                              event.data.holder || "");
  feed.prepend(el("li", {"data-seq": event.seq}, el("span", {class: "muted"}, when + " "),
                  el("span", {class: "type"}, event.type), " ",
                  el("span", {class: "muted"}, event.stream + " · " + event.actor),
                  what ? el("div", {}, clip(what, 80)) : null));
  while (feed.children.length > FEED_MAX) feed.lastChild.remove();
}

// A sortie's new status, shown at once from its event (the refresh that follows redraws
// everything from the API).
const SORTIE_STATUS = {sortie_claimed: "assigned", sortie_started: "in_progress",
                       sortie_completed: "completed", sortie_failed: "failed",
                       sortie_blocked: "blocked", sortie_unblocked: "in_progress",
                       sortie_cancelled: "cancelled", sortie_retried: "pending"};

function markSortie(event) {
  const status = SORTIE_STATUS[event.type];
  if (!status || !String(event.stream).startsWith("sortie:")) return;
  const id = event.stream.slice("sortie:".length);
  for (const g of document.querySelectorAll("g.sortie")) {
    if (g.dataset.sortieId !== id) continue;
    g.dataset.status = status;
    const rect = g.querySelector("rect");
    if (rect) rect.setAttribute("fill", color(status));
    const sub = g.querySelector("text.sub");
    if (sub) sub.textContent = status + (g.dataset.claimedBy ? " · " + clip(g.dataset.claimedBy, 14) : "");
  }
}

// -- the event stream ------------------------------------------------------------------
async function stream() {
  const headers = {"Authorization": "Bearer " + token};
  if (lastSeq !== null) headers["Last-Event-ID"] = String(lastSeq);
  const response = await fetch(API + "/events/stream", {headers, cache: "no-store"});
  if (response.status === 401) { showLogin("the token was refused"); return false; }
  if (!response.ok || !response.body) throw new Error("stream: HTTP " + response.status);
  setConn("live", "live");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true});
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = [];
      let id = null;
      for (const line of frame.split("\n")) {
        if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        else if (line.startsWith("id:")) id = line.slice(3).trim();
      }
      if (!data.length) continue;
      const event = JSON.parse(data.join("\n"));
      lastSeq = id !== null ? Number(id) : event.seq;
      addToFeed(event);
      markSortie(event);
      scheduleRefresh();
    }
  }
  return true;
}

async function follow() {
  let delay = 500;
  try {  // the feed starts with the last few events
    const index = (await api("/status")).index || {};
    lastSeq = Math.max(0, (index.latest_seq || 0) - FEED_BACKLOG);
  } catch (e) {
    lastSeq = null;  // only new ones, then
  }
  for (;;) {
    try {
      if ((await stream()) === false) return;
      delay = 500;
    } catch (e) {
      console.warn("stream dropped", e);
    }
    setConn("down", "reconnecting…");
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10000);
    scheduleRefresh();  // what happened while away
  }
}

function start() {
  $("login").hidden = true;
  $("app").hidden = false;
  $("where").textContent = location.host;
  refresh();
  follow();
  setInterval(scheduleRefresh, 15000);  // idle time passes: stale work, lapsed leases
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("token-input").value.trim();
  sessionStorage.setItem("fleet-hive-token", token);
  start();
});

token = readToken();
if (token) start(); else showLogin("");
