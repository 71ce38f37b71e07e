// teleforge review: table + episode page over the local JSON API. No build step, no dependencies.
"use strict";
const $ = (id) => document.getElementById(id);
const DEFAULT_METRICS = ["idle_fraction", "idle_max_run_s", "action_jerk_rms", "path_length_m", "time_limit_frac", "outlier_z"];
const LEAD = ["episode_id", "task", "instruction", "operator_id", "outcome", "decision", "rule", "num_steps", "duration_s"];
const LABEL = {episode_id: "id", operator_id: "operator", rule: "why dropped (rule: threshold, value)", num_steps: "steps",
  duration_s: "duration s"};
const COLORS = ["#2f6fdd", "#d9480f", "#2b8a3e", "#ae3ec9", "#f08c00", "#0b7285", "#c2255c"];
const S = {summary: null, sort: "episode_id", desc: false, offset: 0, limit: 50, rows: [], total: 0, cursor: 0,
  metrics: [], ids: [], ep: null, step: 0, playing: null, frames: {}, view: "table"};

function url(path, params) {
  const u = new URL(path, location.href);
  u.searchParams.set("token", window.TOKEN);
  for (const [k, v] of Object.entries(params || {})) if (v !== "" && v !== null && v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}
async function api(path, params, body) {
  const opts = body ? {method: "POST", headers: {"Content-Type": "application/json", "X-Teleforge-Token": window.TOKEN},
    body: JSON.stringify(body)} : {};
  const r = await fetch(url(path, params), opts);
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}
function status(msg, bad) { const s = $("status"); s.textContent = msg; s.style.color = bad ? "#ffb0a8" : ""; }
function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3));
  return String(v);
}
function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c])); }
function reasonHtml(x) {
  const vals = Object.entries(x.values || {}).map(([k, v]) => `${esc(k)} = ${esc(fmt(v))}`).join(", ");
  return `<span class="reason"><b>${esc(x.rule)}</b>: <code>${esc(x.when || "")}</code>${vals ? " — " + vals : ""}</span>`;
}

// --- table ----------------------------------------------------------------------------
function filterParams() {
  const p = {sort: S.sort, desc: S.desc ? 1 : 0, text: $("f-text").value, where: $("f-where").value};
  for (const k of ["task", "outcome", "operator_id", "decision", "rule"]) p[k] = $("f-" + k).value;
  return p;
}
async function loadSummary() {
  S.summary = await api("api/summary");
  const s = S.summary;
  $("ds").textContent = s.name + (s.base ? ` (from view ${s.base})` : "");
  $("view-name").textContent = s.view; $("who").textContent = s.who;
  counts(s);
  for (const k of ["task", "outcome", "operator_id", "decision", "rule"]) {
    const sel = $("f-" + k);
    for (const v of s.facets[k] || []) sel.add(new Option(v, v));
  }
  for (const o of s.outcomes) $("ep-outcome").add(new Option(o, o));
  const saved = JSON.parse(localStorage.getItem("tf-metrics") || "null");
  S.metrics = (saved || DEFAULT_METRICS).filter((m) => s.metrics.includes(m));
  $("col-list").innerHTML = s.metrics.map((m) => `<label><input type="checkbox" value="${esc(m)}" ${S.metrics.includes(m) ? "checked" : ""}> ${esc(m)}</label>`).join("");
}
function counts(s) { $("n-kept").textContent = s.kept; $("n-dropped").textContent = s.dropped; }
async function loadPage() {
  const t0 = performance.now();
  let data;
  try { data = await api("api/episodes", {...filterParams(), offset: S.offset, limit: S.limit}); $("error").hidden = true; }
  catch (e) { $("error").textContent = e.message; $("error").hidden = false; return; }
  S.rows = data.rows; S.total = data.total; S.cursor = Math.min(S.cursor, Math.max(0, S.rows.length - 1));
  renderTable();
  $("page-info").textContent = `${S.total ? S.offset + 1 : 0}–${S.offset + S.rows.length} of ${S.total} episodes (${Math.round(performance.now() - t0)} ms)`;
  document.body.dataset.loaded = String(Date.now());
}
function columns() { return [...LEAD, ...S.metrics]; }
function renderTable() {
  const cams = S.summary.cameras;
  $("head").innerHTML = `<th data-col="">frames (${cams.map(esc).join(", ")})</th>` + columns().map((c) =>
    `<th data-col="${esc(c)}" class="${c === S.sort ? "sorted" + (S.desc ? " desc" : "") : ""}">${esc(LABEL[c] || c)}</th>`).join("");
  $("rows").innerHTML = S.rows.map((r, i) => rowHtml(r, i)).join("");
}
function rowHtml(r, i) {
  const cams = S.summary.cameras;
  const imgs = cams.map((c) => `<img class="thumb" loading="lazy" alt="${esc(c)}" title="${esc(c)}" src="${url(`api/thumb/${r.episode_id}/${encodeURIComponent(c)}`)}">`).join("");
  const cells = columns().map((c) => {
    if (c === "rule") return `<td class="why">${(r.reasons || []).map(reasonHtml).join("")}</td>`;
    if (c === "decision") return `<td><span class="badge ${r.decision}">${r.decision}</span>${r.trim ? ` <small>trim ${r.trim[0]}–${r.trim[1]}</small>` : ""}</td>`;
    if (c === "instruction") return `<td class="instr">${esc(r.instruction)}</td>`;
    const v = r[c];
    return `<td class="${typeof v === "number" ? "num" : ""}">${esc(fmt(v))}</td>`;
  }).join("");
  return `<tr data-id="${r.episode_id}" data-i="${i}" class="ep ${r.decision}${i === S.cursor ? " cursor" : ""}"><td class="strip">${imgs}</td>${cells}</tr>`;
}
function moveCursor(d) {
  const n = S.cursor + d;
  if (n >= S.rows.length && S.offset + S.limit < S.total) { S.offset += S.limit; S.cursor = 0; return loadPage(); }
  if (n < 0 && S.offset > 0) { S.offset = Math.max(0, S.offset - S.limit); S.cursor = S.limit - 1; return loadPage(); }
  S.cursor = Math.max(0, Math.min(S.rows.length - 1, n));
  document.querySelectorAll("#rows tr").forEach((tr, i) => tr.classList.toggle("cursor", i === S.cursor));
  document.querySelector("#rows tr.cursor")?.scrollIntoView({block: "nearest"});
}

// --- decisions ------------------------------------------------------------------------
async function decide(eid, action, extra) {
  try {
    const res = await api(`api/decide/${eid}`, null, {action, why: $("why").value, ...(extra || {})});
    counts(res.summary);
    const i = S.rows.findIndex((r) => r.episode_id === eid);
    if (i >= 0) { S.rows[i] = res.row; const tr = document.querySelector(`#rows tr[data-id="${eid}"]`); if (tr) tr.outerHTML = rowHtml(res.row, i); }
    if (S.ep && S.ep.row.episode_id === eid) { S.ep.row = res.row; renderEpisodeState(); }
    status(`saved: episode ${eid} ${action}${extra ? " " + JSON.stringify(extra) : ""} → ${res.summary.view_path.split("/").slice(-2).join("/")}`);
    $("why").value = "";
    document.body.dataset.saved = String(Date.now());
    return res;
  } catch (e) { status(e.message, true); }
}

// --- episode page ---------------------------------------------------------------------
async function openEpisode(eid) {
  stop();
  const t0 = performance.now();
  let ep;
  try { ep = await api(`api/episode/${eid}`); } catch (e) { status(e.message, true); return; }
  if (!S.ids.length) S.ids = (await api("api/ids", filterParams())).ids;
  S.ep = ep; S.view = "episode"; S.step = 0;
  $("table-view").hidden = true; $("episode-view").hidden = false;
  history.replaceState(null, "", `#ep/${eid}`);
  $("ep-id").textContent = eid;
  const pos = S.ids.indexOf(eid);
  $("ep-pos").textContent = pos >= 0 ? `(${pos + 1} of ${S.ids.length} in the table)` : "";
  $("ep-task").textContent = ep.row.task; $("ep-operator").textContent = ep.row.operator_id;
  const sc = $("scrubber"); sc.max = ep.num_steps - 1; sc.value = 0;
  // Cameras: one <img> each, all driven by the scrubber; frames preloaded so play is smooth.
  $("cams").innerHTML = ep.cameras.map((c) => `<figure><img id="cam-${esc(c)}" alt="${esc(c)}"><figcaption>${esc(c)}</figcaption></figure>`).join("");
  S.frames = {};
  const stride = Math.max(1, Math.ceil(ep.num_steps / 600));
  for (const c of ep.cameras) {
    S.frames[c] = [];
    for (let s = 0; s < ep.num_steps; s += stride) { const im = new Image(); im.src = frameUrl(eid, c, s); S.frames[c][s] = im; }
  }
  renderPlots(); renderMetrics(); renderDups(); renderEpisodeState(); setStep(0);
  document.body.dataset.episode = String(eid);
  status(`episode ${eid} loaded in ${Math.round(performance.now() - t0)} ms`);
}
function frameUrl(eid, cam, s) { return url(`api/frame/${eid}/${encodeURIComponent(cam)}/${s}`); }
function renderEpisodeState() {
  const r = S.ep.row;
  const b = $("ep-decision"); b.textContent = r.decision; b.className = "badge " + r.decision;
  if (document.activeElement !== $("ep-instruction")) $("ep-instruction").value = r.instruction || "";
  $("ep-outcome").value = r.outcome;
  const n = S.ep.num_steps, t = r.trim || [0, n];
  $("trim-start").textContent = t[0]; $("trim-stop").textContent = t[1];
  $("reasons").innerHTML = (r.reasons || []).map((x) => `<li>${reasonHtml(x)}</li>`).join("") || "<li>kept: no rule fired</li>";
  drawPlots();
  api(`api/episode/${r.episode_id}`).then((e) => { if (!S.ep || S.ep.row.episode_id !== r.episode_id) return; $("history").innerHTML = (e.decisions || []).map((d) =>
    `<li>${esc(d.at)} ${esc(d.who)}: ${esc(d.action)} ${esc(JSON.stringify(d.after))}${d.why ? " — " + esc(d.why) : ""}</li>`).join("") || "<li>none yet</li>"; });
}
function setStep(s) {
  const ep = S.ep; if (!ep) return;
  s = Math.max(0, Math.min(ep.num_steps - 1, s | 0)); S.step = s;
  $("scrubber").value = s;
  const secs = ep.fps ? (s / ep.fps).toFixed(2) + " s" : "";
  $("step-label").textContent = `step ${s} / ${ep.num_steps - 1}  ${secs}`;
  for (const c of ep.cameras) {
    const pre = S.frames[c][s];
    $("cam-" + c).src = pre && pre.complete ? pre.src : frameUrl(ep.row.episode_id, c, s);
  }
  for (const im of document.querySelectorAll("#dups img[data-n]")) {
    const n = +im.dataset.n, ds = Math.min(n - 1, Math.round(s / Math.max(1, ep.num_steps - 1) * (n - 1)));
    im.src = frameUrl(+im.dataset.id, ep.cameras[0], ds);
  }
  drawPlots();
}
function play() {
  if (S.playing) return stop();
  const ep = S.ep; const end = (ep.row.trim ? ep.row.trim[1] : ep.num_steps) - 1;
  if (S.step >= end) setStep(ep.row.trim ? ep.row.trim[0] : 0);
  $("play").innerHTML = "&#10074;&#10074;";
  S.playing = setInterval(() => { if (S.step >= end) return stop(); setStep(S.step + 1); }, 1000 / (ep.fps || 20));
}
function stop() { if (S.playing) clearInterval(S.playing); S.playing = null; $("play").innerHTML = "&#9654;"; }

function renderPlots() {
  $("plots").innerHTML = Object.entries(S.ep.series).map(([k, s]) =>
    `<figure style="margin:0"><figcaption>${esc(s.label)}</figcaption><canvas width="420" height="130" data-k="${esc(k)}"></canvas></figure>`).join("");
  for (const cv of document.querySelectorAll("#plots canvas")) {
    const seek = (e) => { const r = cv.getBoundingClientRect(); setStep(Math.round((e.clientX - r.left) / r.width * (S.ep.num_steps - 1))); };
    cv.addEventListener("mousedown", (e) => { seek(e); const mv = (ev) => seek(ev); window.addEventListener("mousemove", mv);
      window.addEventListener("mouseup", () => window.removeEventListener("mousemove", mv), {once: true}); });
  }
}
function drawPlots() {
  if (!S.ep) return;
  const n = S.ep.num_steps, t = S.ep.row.trim || [0, n];
  for (const cv of document.querySelectorAll("#plots canvas")) {
    const vals = S.ep.series[cv.dataset.k].values, g = cv.getContext("2d"), W = cv.width, H = cv.height, pad = 4;
    g.clearRect(0, 0, W, H);
    let lo = Infinity, hi = -Infinity;
    for (const row of vals) for (const v of row) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (!(hi > lo)) { hi = lo + 1; lo -= 1; }
    const x = (i) => pad + i / Math.max(1, n - 1) * (W - 2 * pad), y = (v) => H - pad - (v - lo) / (hi - lo) * (H - 2 * pad);
    g.fillStyle = "rgba(120,120,120,.18)";  // trimmed-away steps
    if (t[0] > 0) g.fillRect(0, 0, x(t[0]), H);
    if (t[1] < n) g.fillRect(x(t[1] - 1), 0, W - x(t[1] - 1), H);
    const dims = vals.length ? vals[0].length : 0;
    for (let d = 0; d < dims; d++) {
      g.strokeStyle = COLORS[d % COLORS.length]; g.lineWidth = 1.2; g.beginPath();
      vals.forEach((row, i) => { const v = row[d]; if (v === null) return; i ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v)); });
      g.stroke();
    }
    g.strokeStyle = "#e03131"; g.lineWidth = 1.5; g.beginPath(); g.moveTo(x(S.step), 0); g.lineTo(x(S.step), H); g.stroke();
    g.fillStyle = "#555"; g.font = "10px system-ui"; g.fillText(fmt(hi), 2, 10); g.fillText(fmt(lo), 2, H - 2);
  }
}
function renderMetrics() {
  // most unusual first: distance of the episode's percentile from the task's median
  const odd = (m) => (m.percentile === null || !(m.hi > m.lo) ? -1 : Math.abs(m.percentile - 50));
  const rows = Object.entries(S.ep.metrics).filter(([, m]) => m.value !== null).sort((a, b) => odd(b[1]) - odd(a[1])).map(([k, m]) => {
    const ext = m.percentile !== null && (m.percentile <= 2 || m.percentile >= 98) && m.hi > m.lo;
    return `<tr class="${ext ? "extreme" : ""}"><td>${esc(k)}</td><td class="num">${esc(fmt(m.value))}</td>
      <td class="num">${m.percentile === null ? "–" : Math.round(m.percentile)}</td><td>${histSvg(m)}</td></tr>`;
  });
  document.querySelector("#metrics tbody").innerHTML = rows.join("");
}
function histSvg(m) {
  const W = 200, H = 30, n = m.hist.length; if (!n) return "";
  const top = Math.max(1, ...m.hist), bw = W / n;
  const bars = m.hist.map((c, i) => `<rect x="${(i * bw).toFixed(1)}" y="${(H - 10 - c / top * (H - 12)).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${(c / top * (H - 12)).toFixed(1)}" fill="#9bb5e0"/>`).join("");
  const span = m.hi > m.lo ? m.hi - m.lo : 1, mx = Math.max(0, Math.min(W, (m.value - m.lo) / span * W));
  return `<svg width="${W}" height="${H}">${bars}<line x1="${mx}" x2="${mx}" y1="0" y2="${H - 10}" stroke="#e03131" stroke-width="2"/>` +
    `<text x="0" y="${H}" font-size="9">${esc(fmt(m.lo))}</text><text x="${W}" y="${H}" font-size="9" text-anchor="end">${esc(fmt(m.hi))}</text></svg>`;
}
async function renderDups() {
  const dups = S.ep.row.duplicates || [];
  if (!dups.length) { $("dups").innerHTML = "<p>none found (run <code>teleforge curate dedupe</code> to look)</p>"; return; }
  const me = S.ep.row.episode_id, cam = S.ep.cameras[0];
  const parts = [`<div class="dup"><img data-id="${me}" data-n="${S.ep.num_steps}" alt="this episode"><b>this (${me})</b></div>`];
  for (const d of dups) {
    const e = await api(`api/episode/${d}`).catch(() => null); if (!e) continue;
    parts.push(`<div class="dup"><img data-id="${d}" data-n="${e.num_steps}" alt="episode ${d}"><a href="#ep/${d}" data-open="${d}">episode ${d}</a> <span class="badge ${e.row.decision}">${e.row.decision}</span></div>`);
  }
  $("dups").innerHTML = `<p>${esc(cam)} camera at the same point of each episode</p>` + parts.join("");
  setStep(S.step);
}
function backToTable() {
  stop(); S.view = "table"; S.ep = null;
  $("episode-view").hidden = true; $("table-view").hidden = false;
  history.replaceState(null, "", "#");
  loadPage();
}
function neighbour(d) {
  const i = S.ids.indexOf(S.ep.row.episode_id);
  const j = i + d;
  if (j >= 0 && j < S.ids.length) openEpisode(S.ids[j]); else status(d > 0 ? "last episode" : "first episode");
}
function trimAt(which) {
  const ep = S.ep, n = ep.num_steps, t = ep.row.trim || [0, n];
  const a = which === "start" ? S.step : t[0], b = which === "stop" ? S.step + 1 : t[1];
  if (!(a < b)) return status(`trim ${a}..${b}: start must come before end`, true);
  decide(ep.row.episode_id, "trim", {start: a, stop: b});
}

// --- events ---------------------------------------------------------------------------
function typing(e) { const t = e.target; return t && (t.tagName === "INPUT" && t.type !== "range" || t.tagName === "SELECT" || t.tagName === "TEXTAREA"); }
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") { if (typing(e)) { e.target.blur(); return; } if (!$("help").hidden) { $("help").hidden = true; return; } if (S.view === "episode") backToTable(); return; }
  if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
  const ep = S.view === "episode" ? S.ep : null;
  const cur = ep ? ep.row.episode_id : S.rows[S.cursor]?.episode_id;
  switch (e.key) {
    case "?": $("help").hidden = !$("help").hidden; break;
    case "j": ep ? neighbour(1) : moveCursor(1); break;
    case "k": ep ? neighbour(-1) : moveCursor(-1); break;
    case "Enter": if (!ep && cur !== undefined) openEpisode(cur); break;
    case "a": if (cur !== undefined) decide(cur, "keep"); break;
    case "d": if (cur !== undefined) decide(cur, "drop"); break;
    case "[": if (ep) trimAt("start"); break;
    case "]": if (ep) trimAt("stop"); break;
    case "c": if (ep) decide(cur, "trim", {}); break;
    case "i": if (ep) { e.preventDefault(); $("ep-instruction").focus(); $("ep-instruction").select(); } break;
    case "o": if (ep) { e.preventDefault(); $("ep-outcome").focus(); } break;
    case " ": if (ep) { e.preventDefault(); play(); } break;
    case "ArrowRight": if (ep) { e.preventDefault(); stop(); setStep(S.step + (e.shiftKey ? 10 : 1)); } break;
    case "ArrowLeft": if (ep) { e.preventDefault(); stop(); setStep(S.step - (e.shiftKey ? 10 : 1)); } break;
    default: return;
  }
});
$("ep-instruction").addEventListener("keydown", (e) => {
  if (e.key === "Enter") { e.preventDefault(); decide(S.ep.row.episode_id, "relabel", {instruction: e.target.value}); e.target.blur(); }
});
$("ep-outcome").addEventListener("change", (e) => decide(S.ep.row.episode_id, "relabel", {outcome: e.target.value}));
$("scrubber").addEventListener("input", (e) => { stop(); setStep(+e.target.value); });
$("play").addEventListener("click", play);
$("back").addEventListener("click", backToTable);
$("keep-btn").addEventListener("click", () => decide(S.ep.row.episode_id, "keep"));
$("drop-btn").addEventListener("click", () => decide(S.ep.row.episode_id, "drop"));
$("trim-clear").addEventListener("click", () => decide(S.ep.row.episode_id, "trim", {}));
$("help-btn").addEventListener("click", () => { $("help").hidden = !$("help").hidden; });
$("dups").addEventListener("click", (e) => { const id = e.target.dataset?.open; if (id) { e.preventDefault(); openEpisode(+id); } });
$("head").addEventListener("click", (e) => {
  const c = e.target.closest("th")?.dataset.col; if (!c) return;
  S.desc = S.sort === c ? !S.desc : false; S.sort = c; S.offset = 0; S.ids = []; loadPage();
});
$("rows").addEventListener("click", (e) => { const tr = e.target.closest("tr"); if (tr) openEpisode(+tr.dataset.id); });
const refilter = () => { S.offset = 0; S.cursor = 0; S.ids = []; loadPage(); };
$("filters").addEventListener("submit", refilter);
for (const k of ["task", "outcome", "operator_id", "decision", "rule"]) $("f-" + k).addEventListener("change", refilter);
$("f-text").addEventListener("keydown", (e) => { if (e.key === "Enter") refilter(); });
$("col-list").addEventListener("change", () => {
  S.metrics = [...document.querySelectorAll("#col-list input:checked")].map((x) => x.value);
  localStorage.setItem("tf-metrics", JSON.stringify(S.metrics)); renderTable();
});
$("prev-page").addEventListener("click", () => { if (S.offset > 0) { S.offset = Math.max(0, S.offset - S.limit); loadPage(); } });
$("next-page").addEventListener("click", () => { if (S.offset + S.limit < S.total) { S.offset += S.limit; loadPage(); } });

(async () => {
  await loadSummary();
  await loadPage();
  const m = location.hash.match(/^#ep\/(\d+)/);
  if (m) openEpisode(+m[1]);
})();
