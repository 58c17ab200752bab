"""The /status page: one self-contained HTML document (inline CSS and JS, no external assets).

It works offline, behind any custom domain, on a phone. What the user types (an access
token or their own keys) lives in a form field and goes out only in a request header
(`Authorization: Bearer` for a token, `x-goog-api-key` for keys) of fetch() calls to
`/status/data`, `/verify` (whose server-sent events the page reads as they stream in)
and `/status/metrics`: never in a URL (the field has no name and the form never
submits), never in browser storage unless "remember on this device" is ticked. Data is
written with textContent only. The Content-Security-Policy allows this page's own
script (by hash), its own style, and connections to its own origin: nothing else.
"""

from __future__ import annotations

import base64
import hashlib

from starlette.responses import Response

STYLE = """
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--fg:#1b1f24;--mute:#5b6470;--line:#d9dde3;
--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--info:#0969da;--bar:#8c959f}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--fg:#e6edf3;--mute:#9198a1;
--line:#30363d;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--info:#58a6ff;--bar:#6e7681}}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:var(--bg);color:var(--fg)}main{max-width:920px;margin:0 auto;padding:16px}
h1{font-size:1.3rem;margin:0 0 4px}p.sub{margin:0 0 14px;color:var(--mute)}
form,.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px;margin-bottom:12px}
label{display:block;font-weight:600;margin-bottom:6px}.row{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center}
.row label{font-weight:400;margin:0}input[type=password],select{font:inherit;width:100%;padding:10px;
border:1px solid var(--line);border-radius:8px;background:var(--bg);color:var(--fg)}
select{width:auto;max-width:100%}button{font:inherit;font-weight:600;padding:10px 18px;border:0;border-radius:8px;
background:var(--info);color:#fff;cursor:pointer}button.plain{background:transparent;color:var(--info);padding:10px 4px}
.hint{color:var(--mute);font-size:.85rem;margin:6px 0 10px}#msg{margin:8px 0;font-weight:600}
#msg.error{color:var(--bad)}.chips{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 12px}
.chip{border:1px solid var(--line);border-radius:999px;padding:3px 10px;font-size:.85rem;background:var(--card)}
.keys{display:grid;gap:10px}.key{display:grid;grid-template-columns:1fr auto;gap:4px 10px;align-items:baseline}
.mask{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-weight:600;word-break:break-all}
.badge{font-size:.8rem;font-weight:700;padding:2px 8px;border-radius:6px;border:1px solid currentColor;white-space:nowrap}
.s-valid{color:var(--ok)}.s-invalid,.s-permission_denied,.s-error{color:var(--bad)}
.s-rate_limited,.s-quota_exhausted{color:var(--warn)}.s-unavailable,.s-checking{color:var(--mute)}
.detail,.cool{grid-column:1/-1;color:var(--mute);font-size:.85rem;overflow-wrap:anywhere}.cool{color:var(--warn)}
.charts{grid-column:1/-1;display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:8px}
.chart{font-size:.8rem;color:var(--mute)}.chart svg{display:block;width:100%;height:56px}
.c-calls{fill:var(--bar)}.c-base{fill:var(--line)}.c-rl{fill:var(--bad)}.note{color:var(--mute);font-size:.85rem}
"""

SCRIPT = """
"use strict";
const $ = (id) => document.getElementById(id);
const STORE = "gemini-edge-proxy.status";
const LABELS = {valid: "valid", invalid: "invalid", rate_limited: "rate limited", quota_exhausted: "quota exhausted",
  permission_denied: "permission denied", unavailable: "unavailable", error: "error", checking: "checking"};
let rows = [], counts = {}, run = 0;

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}
function credential() {
  const value = $("secret").value.trim();
  const token = $("as-token").checked;
  return {value, token, headers: token ? {"Authorization": "Bearer " + value} : {"x-goog-api-key": value}};
}
function say(text, error) { $("msg").textContent = text; $("msg").className = error ? "error" : ""; }
async function refusal(res) {
  try { const body = await res.json(); return body.error.message || res.statusText; } catch (e) { return res.statusText; }
}
function remember(cred) {
  try {
    if ($("remember").checked) localStorage.setItem(STORE, JSON.stringify({value: cred.value, token: cred.token}));
    else localStorage.removeItem(STORE);
  } catch (e) { /* storage blocked: nothing to do */ }
}
function showCounts() {
  const box = $("counts"); box.replaceChildren();
  box.append(el("span", "chip", rows.length + " key" + (rows.length === 1 ? "" : "s")));
  for (const [status, n] of Object.entries(counts)) {
    if (n) box.append(el("span", "chip s-" + status, LABELS[status] + ": " + n));
  }
}
function setStatus(row, status, detail) {
  counts[row.status] -= 1;
  row.status = status; counts[status] = (counts[status] || 0) + 1;
  row.badge.className = "badge s-" + status; row.badge.textContent = LABELS[status] || status;
  row.detail.textContent = detail || "";
  showCounts();
}
function cooldownText(entries) {
  return entries.map((c) => "cooling down" + (c.model ? " for " + c.model : "") + ": " +
    Math.ceil(c.seconds_left) + " s left, " + c.reason).join("; ");
}
function render(data) {
  const list = $("keys"); list.replaceChildren(); rows = []; counts = {};
  for (const mask of data.keys) {
    const card = el("div", "card key"); card.dataset.key = mask;
    const badge = el("span", "badge s-checking", LABELS.checking);
    const detail = el("div", "detail");
    const cool = el("div", "cool", cooldownText(data.cooldowns.filter((c) => c.key === mask)));
    const charts = el("div", "charts");
    card.append(el("span", "mask", mask), badge, detail, cool, charts);
    list.append(card);
    rows.push({mask, badge, detail, charts, status: "checking", done: false});
  }
  counts.checking = rows.length;
  $("scope").textContent = (data.scope === "pool" ? "Server key pool" : "Your keys") + " - " + data.note;
  showCounts();
}
async function readEvents(res, onEvent) {
  const reader = res.body.getReader(), decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, {stream: true});
    let cut;
    while ((cut = buffer.indexOf("\\n\\n")) >= 0) {
      const event = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
      for (const line of event.split("\\n")) {
        if (!line.startsWith("data: ")) continue;
        const payload = line.slice(6);
        if (payload === "[DONE]") return;
        onEvent(JSON.parse(payload));
      }
    }
  }
}
function onResult(entry) {
  if (entry.summary) { $("probe-note").textContent = entry.summary.note || ""; return; }
  const row = rows.find((r) => r.mask === entry.key && !r.done);
  if (!row) return;
  row.done = true;
  setStatus(row, entry.status, entry.message + (entry.http_status ? " (HTTP " + entry.http_status + ")" : ""));
}
function bars(series, limited, label) {
  const ns = "http://www.w3.org/2000/svg", n = series.length, top = Math.max(1, ...series);
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 " + n * 10 + " 50"); svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img"); svg.setAttribute("aria-label", label);
  const base = document.createElementNS(ns, "rect");
  base.setAttribute("x", 0); base.setAttribute("y", 49); base.setAttribute("width", n * 10);
  base.setAttribute("height", 1); base.setAttribute("class", "c-base"); svg.append(base);
  series.forEach((v, i) => {
    for (const [value, cls] of [[v, "c-calls"], [limited[i], "c-rl"]]) {
      if (!value) continue;
      const h = Math.max(1, (value / top) * 48), rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", i * 10 + 1); rect.setAttribute("width", 8);
      rect.setAttribute("y", 50 - h); rect.setAttribute("height", h); rect.setAttribute("class", cls);
      const tip = document.createElementNS(ns, "title");
      tip.textContent = value + (cls === "c-rl" ? " x 429" : " calls"); rect.append(tip); svg.append(rect);
    }
  });
  return svg;
}
function showFleet(fleet) {
  if (!fleet.enabled || fleet.error) { $("fleet").textContent = fleet.error || fleet.reason || ""; return; }
  $("fleet").textContent = "Fleet figures from CloudWatch (all instances): calls in grey, 429s in red.";
  for (const row of rows) {
    const figures = fleet.keys[row.mask]; if (!figures) continue;
    row.charts.replaceChildren();
    for (const [name, title] of [["hour", "last hour (5 min)"], ["day", "last day (1 h)"]]) {
      const f = figures[name], box = el("div", "chart");
      box.append(el("div", "", title + ": " + f.calls_total + " calls, " + f.rate_limited_total + " x 429"));
      box.append(bars(f.calls, f.rate_limited, row.mask + " " + title));
      row.charts.append(box);
    }
  }
}
async function check(event) {
  event.preventDefault();
  const cred = credential(), mine = ++run;
  if (!cred.value) { say("Type an access token or your keys first.", true); return; }
  remember(cred);
  say("Loading...");
  const as = cred.token ? "?as=token" : "";
  const res = await fetch("/status/data" + as, {headers: cred.headers, cache: "no-store"});
  if (!res.ok) { clear(); say(await refusal(res), true); return; }
  const data = await res.json();
  render(data);
  say("Checking " + data.keys.length + " key(s)...");
  if (data.fleet.enabled) {
    fetch("/status/metrics" + as, {headers: cred.headers, cache: "no-store"})
      .then((r) => r.json()).then((f) => { if (mine === run) showFleet(f); })
      .catch(() => { $("fleet").textContent = "Fleet figures could not be loaded."; });
  } else { $("fleet").textContent = "Fleet figures are off on this proxy."; }
  const probe = $("probe").value === "generate" ? "?probe=generate" : "";
  const verify = await fetch("/verify" + probe, {method: "POST", headers: cred.headers, cache: "no-store"});
  if (!verify.ok) { say(await refusal(verify), true); return; }
  await readEvents(verify, (entry) => { if (mine === run) onResult(entry); });
  if (mine === run) say("Checked " + data.keys.length + " key(s).");
}
function clear() {
  rows = []; counts = {};
  for (const id of ["keys", "counts", "scope", "probe-note", "fleet"]) $(id).replaceChildren();
}
function forget() {
  try { localStorage.removeItem(STORE); } catch (e) { /* nothing stored */ }
  $("secret").value = ""; $("remember").checked = false; say("Forgotten on this device.");
}
$("form").addEventListener("submit", (event) => check(event).catch(() => say("The check failed: network error.", true)));
$("forget").addEventListener("click", forget);
try {
  const saved = JSON.parse(localStorage.getItem(STORE) || "null");
  if (saved) { $("secret").value = saved.value; $("as-token").checked = saved.token;
    $("as-keys").checked = !saved.token; $("remember").checked = true; }
} catch (e) { /* nothing stored */ }
"""

BODY = """<main>
<h1>Key health</h1>
<p class="sub">Gemini Edge Proxy - live check of each key, this instance's cooldowns, and fleet figures.</p>
<form id="form" autocomplete="off">
<label for="secret">Access token or your Gemini keys</label>
<input id="secret" type="password" autocomplete="off" spellcheck="false" autocapitalize="off"
 placeholder="token, or key1,key2,...">
<div class="row" style="margin-top:8px">
<label><input type="radio" name="as" id="as-token" checked> access token (server pool)</label>
<label><input type="radio" name="as" id="as-keys"> my own keys</label>
</div>
<p class="hint">Sent only in a request header, never in a URL. Kept in this browser only if you tick:</p>
<div class="row">
<label><input type="checkbox" id="remember"> remember on this device</label>
<label>check: <select id="probe"><option value="metadata">key only (free)</option>
<option value="generate">generation (1 request per key)</option></select></label>
</div>
<div class="row" style="margin-top:12px"><button type="submit" id="go">Check keys</button>
<button type="button" class="plain" id="forget">Forget</button></div>
</form>
<div id="msg" role="status" aria-live="polite"></div>
<div id="counts" class="chips"></div>
<p id="scope" class="note"></p>
<p id="probe-note" class="note"></p>
<p id="fleet" class="note"></p>
<div id="keys" class="keys"></div>
</main>"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


HTML = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width,initial-scale=1">'
    '<meta name="referrer" content="no-referrer"><title>Key health - Gemini Edge Proxy</title>'
    f"<style>{STYLE}</style></head><body>{BODY}<script>{SCRIPT}</script></body></html>\n"
).encode()
CSP = (
    f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src 'unsafe-inline'; connect-src 'self'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
}


def page_response() -> Response:
    return Response(HTML, media_type="text/html; charset=utf-8", headers=HEADERS)
