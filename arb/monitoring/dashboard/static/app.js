// arb dashboard: listens to /api/events (server-sent events) and draws each state document it gets.
// Read-only but for the controls card, whose buttons POST to /api/control/... with the token typed into its
// field (kept in the field only: never stored, never put in a URL). Every figure arrives formatted by the server (money at its meaning); the curve's exact
// decimal strings are parsed here only to place points. Text from the run goes in with textContent, never
// as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let lastDoc = null;
let ended = false;

function connect() {
  const events = new EventSource("/api/events");
  events.addEventListener("state", (e) => { setConnection("live", "ok"); render(JSON.parse(e.data)); });
  events.addEventListener("final", (e) => {
    ended = true;
    events.close();
    const doc = JSON.parse(e.data);
    if (doc) render(doc);
    // A running engine's server stops when its run ends; `arb dashboard` stops when it is told to.
    setConnection(doc && doc.live ? "run over: final figures" : "dashboard stopped", "ended");
  });
  events.onerror = () => { if (!ended) setConnection("reconnecting…", "lost"); };
}

function setConnection(text, kind) {
  const el = $("connection");
  el.textContent = text;
  el.className = "conn " + kind;
}

// ---------------------------------------------------------------- formatting
function utc(ms, withDate = true, withMs = false) {
  if (ms === null || ms === undefined) return "-";
  const iso = new Date(ms).toISOString();
  return (withDate ? iso.slice(0, 10) + " " : "") + iso.slice(11, withMs ? 23 : 19) + "Z";
}

function duration(ms) {
  if (ms === null || ms === undefined || ms < 0) return "-";
  const s = Math.floor(ms / 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

function count(n) { return n === null || n === undefined ? "-" : Number(n).toLocaleString("en-US"); }

function signClass(text) {
  if (text === null || text === undefined || text === "-" || Number(text) === 0) return "";
  return text.startsWith("-") ? "neg" : "pos";
}

function setMoney(id, text) {
  const node = $(id);
  node.textContent = text ?? "-";
  node.classList.remove("pos", "neg");
  const sign = signClass(text);
  if (sign) node.classList.add(sign);
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function fillTable(id, rows, cells) {
  const body = $(id).querySelector("tbody");
  const trs = rows.map((row) => {
    const tr = document.createElement("tr");
    for (const cell of cells(row)) tr.append(cell);
    return tr;
  });
  body.replaceChildren(...trs);
  return trs;
}

// ---------------------------------------------------------------- render
function render(doc) {
  lastDoc = doc;
  const run = doc.run;
  const live = doc.live;
  const funnel = live ? live.funnel : doc.funnel;

  $("run-title").textContent = `run ${run.id}`;
  const status = $("run-status");
  status.textContent = run.status;
  status.className = "pill " + run.status;
  $("run-mode").textContent = run.mode;
  $("market-time").textContent = utc(live ? live.market_ms : run.market_ended_at);
  tickElapsed();

  const quote = quoteCurrency(doc);
  for (const node of document.querySelectorAll("[data-quote]")) node.textContent = quote ? `(${quote})` : "";

  const pnl = doc.pnl;
  setMoney("pnl-realized", pnl.realized);
  setMoney("pnl-expected", pnl.expected);
  setMoney("equity", pnl.equity);
  setMoney("pnl-unrealized", pnl.unrealized);
  for (const key of ["slippage", "fees", "unfilled", "imbalance"]) setMoney(`pnl-${key}`, pnl[key]);
  $("executed").textContent = count(pnl.executed);
  $("unsettled").textContent = count(pnl.unsettled);
  $("rejected").textContent = funnel ? count(funnel.rejected_total) : "-";
  $("top-reason").textContent = funnel ? topReason(funnel.rejected) : "-";
  $("rejected").title = "the sum of every reason in the funnel";
  $("book-updates").textContent = funnel ? count(funnel.book_updates) : "-";
  $("updates-rate").textContent = live && run.status === "running"
    ? `${live.updates_per_s.toLocaleString("en-US")} /s` : "run over";
  if (!live && !ended) {
    setConnection(run.status === "running" ? "from the database" : "stored run", "ended");
  }

  renderBooks(live);
  renderFunnel(funnel, doc.maker);
  renderRisk(doc);
  renderPositions(doc.positions);
  renderMaker(doc.maker);
  renderHoldings(doc.holdings);
  renderIncidents(doc.incident_list, doc.incidents_total, run);
  renderControls(doc.controls);
  drawCurve(doc.curve, run, live ? live.market_ms : null);
  fillTable("balances", doc.balances, (b) => [
    el("td", b.venue), el("td", b.asset), el("td", b.start ?? "-", "num"), el("td", b.latest, "num"),
    el("td", b.change ?? "-", "num " + signClass(b.change)),
  ]);
  $("transfers-empty").style.display = (doc.transfers ?? []).length ? "none" : "";
  fillTable("transfers", doc.transfers ?? [], (t) => [
    el("td", t.id, "muted"), el("td", utc(t.planned_at, false)), el("td", `${t.asset}  ${t.route}`),
    el("td", t.amount, "num"), el("td", t.fee, "num"), el("td", t.status),
    el("td", t.arrived_at === null ? "-" : utc(t.arrived_at, false)),
  ]);
  fillTable("trades", doc.trades, (t) => [
    el("td", t.id, "muted"), el("td", utc(t.at, false)), el("td", `${t.symbol}  ${t.route}`),
    el("td", t.size, "num"), el("td", t.expected, "num"),
    el("td", t.realized ?? "unsettled", "num " + signClass(t.realized)),
    tagCell(t.outcome ?? "-", (t.outcome ?? "").replaceAll(" ", "_")),
  ]);
  fillTable("opportunities", doc.opportunities, (o) => [
    el("td", o.id, "muted"), el("td", utc(o.at, false, true)), el("td", `${o.symbol}  ${o.route}`),
    sizeCell(o), el("td", o.gross_edge_bps ?? "-", "num"),
    // A cross with nothing profitable to size has a gross edge but no net edge after fees.
    el("td", o.edge_bps ?? "-", "num " + (o.edge_bps ? signClass(o.edge_bps) : "")),
    el("td", o.expected, "num" + (o.sized ? "" : " muted")),
    o.decision === "executed" ? tagCell("executed", "executed") : tagCell(o.reason ?? "rejected", "rejected"),
  ]);
  $("db").textContent = doc.db;
  $("updated").textContent = `updated ${new Date().toLocaleTimeString("en-GB")}`;
}

function sizeCell(o) {
  const td = el("td", o.size, "num" + (o.sized ? "" : " muted"));
  if (!o.sized) td.title = "nothing to size: no amount of this cross was profitable after fees (or fundable)";
  return td;
}

function renderPositions(positions) {
  const rows = positions.rows;
  const valued = { end: "valued at the mid of the run's end", now: "valued at the books' mid now",
    none: "no mark: the books are live only in the running engine" }[positions.valued_at] ?? "";
  $("positions-note").textContent = rows.length ? valued : "";
  $("positions-card").classList.toggle("open", rows.length > 0);
  $("positions-empty").style.display = rows.length ? "none" : "";
  $("positions").style.display = rows.length ? "" : "none";
  fillTable("positions", rows, (p) => [
    el("td", p.venue), el("td", `${p.symbol} ${p.side}`), el("td", `${p.amount} ${p.base}`, "num"),
    el("td", p.cost, "num"), el("td", p.mark ?? "no mark", "num"), el("td", `${p.notional} ${p.quote}`, "num"),
    el("td", p.unrealized ?? "unknown", "num"),
  ]).forEach((tr) => tr.classList.add("open-position"));
}

function renderHoldings(h) {
  // Only a run that traded a perpetual has the panel: every venue's change in holdings (arb/valuation.py), at
  // the books' mids and closed into their depth, what closed, funding and the basis held: the summary's.
  $("holdings-card").style.display = h ? "" : "none";
  if (!h) return;
  $("holdings-note").textContent = h.valued_at === "now" ? "at the books now" : "at the run's end books";
  fillTable("holdings", h.rows, (r) => [
    el("td", r.venue), el("td", r.symbol), el("td", r.what), el("td", r.amount, "num"), el("td", r.entry ?? "-", "num"),
    el("td", r.mark ?? "-", "num"), el("td", r.at_mark ?? "-", "num"), el("td", r.at_unwind ?? "-", "num"),
  ]);
  const figures = Object.keys(h.equity_at_mark).map((q) =>
    `equity change ${h.equity_at_mark[q] ?? "unknown"} ${q} at mark, ${h.equity_at_unwind[q] ?? "unknown"} at unwind; `
    + `realized (closed) ${h.realized[q] ?? "unknown"}`
    + (h.funding[q] !== undefined ? `; funding ${h.funding[q]} over ${h.funding_payments} payments` : ""));
  $("holdings-figures").textContent = figures.join(" | ");
  $("holdings-basis").textContent = h.basis.length
    ? `basis still held: ${h.basis.join("; ")} (the pairs' realized counts their entry spread, not this)` : "";
}

function renderMaker(maker) {
  // Only a maker run has the panel: its routes' quoting (arb/store/maker_views.py, as the run summary and
  // arb report print it) and the quotes resting on the venue.
  $("maker-card").style.display = maker ? "" : "none";
  if (!maker) return;
  const spread = (s, key) => el("td", s ? s[key] : "-", "num");
  $("maker-routes-empty").style.display = maker.routes.length ? "none" : "";
  $("maker-routes").style.display = maker.routes.length ? "" : "none";
  fillTable("maker-routes", maker.routes, (r) => [
    el("td", `${r.symbol}  ${r.route}`), el("td", count(r.quotes), "num"),
    el("td", count(r.refused), "num" + (r.refused ? "" : " muted")), el("td", count(r.quotes_filled), "num"),
    el("td", count(r.maker_fills), "num"), el("td", count(r.hedges), "num"),
    el("td", count(r.flattens), "num" + (r.flattens ? "" : " muted")),
    spread(r.fill_to_hedge_ms, "median"), spread(r.fill_to_hedge_ms, "max"),
    spread(r.unhedged_ms, "median"), spread(r.unhedged_ms, "max"),
    // Base filled on the maker venue that no hedge answered: owed, in red when there is any.
    el("td", `${r.unhedged_base} ${r.base}`, "num" + (Number(r.unhedged_base) !== 0 ? " neg" : "")),
    el("td", r.adverse, "num " + signClass(r.adverse)), el("td", r.hedge_slippage, "num " + signClass(r.hedge_slippage)),
  ]);
  const rows = maker.resting;
  $("resting-note").textContent = maker.resting_at === "now" ? "on the venue now"
    : rows.length ? "left resting at the run's end (not cancelled)" : "at the run's end";
  $("resting-empty").style.display = rows.length ? "none" : "";
  $("resting-empty").textContent = maker.resting_at === "now" ? "none" : "none: every quote was cancelled";
  $("maker-resting").style.display = rows.length ? "" : "none";
  fillTable("maker-resting", rows, (q) => [
    el("td", q.id, "muted"), el("td", utc(q.at, false, true)), el("td", q.venue), el("td", q.symbol),
    tagCell(q.side, q.side), el("td", q.price, "num"), el("td", q.amount, "num"),
    el("td", q.filled, "num" + (Number(q.filled) !== 0 ? "" : " muted")),
  ]);
}

function renderIncidents(incidents, total, run) {
  $("incidents-empty").style.display = incidents.length < total || !incidents.length ? "" : "none";
  $("incidents-empty").textContent = total ? `${count(total - incidents.length)} older incidents not listed` : "none";
  $("incidents").style.display = incidents.length ? "" : "none";
  fillTable("incidents", incidents, (i) => {
    const open = i.ended_at === null;
    const end = open ? (run.status === "running" ? "ongoing" : "open at the end") : utc(i.ended_at, false);
    return [el("td", i.kind.replaceAll("_", " "), open ? "open-incident" : ""), el("td", utc(i.started_at, false)),
      el("td", end, open ? "open-incident" : ""), el("td", i.detail, "detail")];
  });
}

function tagCell(text, cls) {
  const td = document.createElement("td");
  td.append(el("span", text, "tag " + (cls ?? "")));
  return td;
}

function quoteCurrency(doc) {
  const symbols = new Set([
    ...(doc.live ? doc.live.books.map((b) => b.symbol) : []),
    ...doc.trades.map((t) => t.symbol), ...doc.opportunities.map((o) => o.symbol),
  ]);
  const quotes = new Set([...symbols].map((s) => s.split("/")[1]));
  return quotes.size === 1 ? [...quotes][0] : "";
}

function topReason(rejected) {
  const ranked = Object.entries(rejected || {}).sort((a, b) => b[1] - a[1]);
  return ranked.length ? `most: ${ranked[0][0]}` : "none";
}

function tickElapsed() {
  if (!lastDoc) return;
  const run = lastDoc.run;
  const end = run.ended_at ?? (ended ? null : Date.now());
  $("elapsed").textContent = end === null ? "-" : duration(end - run.started_at);
}

function renderBooks(live) {
  const books = live ? live.books : [];
  $("books").style.display = live ? "" : "none";
  fillTable("books", books, (b) => {
    const health = document.createElement("td");
    health.append(el("span", b.health, "pill " + b.health));
    return [el("td", b.venue), el("td", b.symbol), health,
      el("td", b.age_ms === null ? "-" : `${count(b.age_ms)} ms`, "num")];
  });
  $("books-note").textContent = live ? "" : "books and risk state are live only: this run is read from the database";
}

function renderFunnel(funnel, maker) {
  const box = $("funnel");
  if (!funnel) { box.replaceChildren(el("div", "no funnel stored for this run", "muted")); return; }
  // A maker-only run has no detection (as the run summary omits its stages): its quoting is the maker panel.
  const detection = funnel.evaluations > 0 || !maker;
  const stages = detection ? [
    ["book updates", funnel.book_updates], ["evaluations", funnel.evaluations], ["crossed", funnel.crossed],
    ["profitable after fees", funnel.profitable_after_fees], ["approved", funnel.approved],
    ["executed", funnel.executed],
  ] : [["book updates", funnel.book_updates], ["executed (maker pairs)", funnel.executed]];
  // Every reason: their bars add up to the rejected tile (both are the funnel's counts).
  const reasons = Object.entries(funnel.rejected || {}).sort((a, b) => b[1] - a[1]);
  const top = Math.max(1, ...stages.map((s) => s[1]));
  const width = (n) => (n > 0 ? (100 * Math.log10(n + 1)) / Math.log10(top + 1) : 0);
  const row = (label, n, cls) => {
    const r = el("div", null, "bar-row " + (cls || ""));
    const track = el("div", null, "track");
    const bar = el("div", null, "bar");
    bar.style.width = `${Math.max(width(n), n > 0 ? 1.5 : 0)}%`;
    track.append(bar);
    r.append(el("span", label), track, el("span", count(n), "count"));
    return r;
  };
  box.replaceChildren(...stages.map(([l, n]) => row(l, n)),
    ...reasons.map(([reason, n]) => row(`✕ ${reason}`, n, "reason")),
    ...(detection ? [] : [el("div", "no taker symbol: detection did not run; quoting is in the maker panel",
      "muted small")]));
}

// ---------------------------------------------------------------- the controls (server.py: POST /api/control)
function renderControls(c) {
  const on = Boolean(c && c.enabled) && !ended;
  $("controls-note").textContent = !c ? "" : c.why || (ended ? "the run is over"
    : "each action goes to the engine, which applies it within a second of its clock and lists it as an incident");
  for (const id of ["control-token", "control-kill", "control-cancel"]) $(id).disabled = !on;
  // Without controls (a stored run, no token set) the card is its note alone: nothing to type or press.
  const offered = Boolean(c && c.enabled);
  $("controls-row").style.display = offered ? "" : "none";
  $("controls").style.display = offered ? "" : "none";
  $("access").textContent = offered ? "read-only but for the controls, which need the run's token" : "read-only";
  $("control-cancel").style.display = c && c.quotes ? "" : "none";
  $("control-kill").textContent = c && c.kill_switch ? "kill switch: ON" : "kill switch";
  const paused = new Set(c ? c.paused : []);
  fillTable("controls", c ? c.symbols : [], (symbol) => {
    const action = paused.has(symbol) ? "resume" : "pause";
    const button = el("button", action);
    button.type = "button";
    button.disabled = !on;
    button.dataset.symbol = symbol;
    button.addEventListener("click", () => control(action, symbol));
    const cell = el("td");
    cell.append(button);
    return [el("td", symbol), el("td", paused.has(symbol) ? "paused" : "trading", paused.has(symbol) ? "neg" : ""),
      cell];
  });
}

async function control(action, symbol) {
  const what = symbol ? `${action} ${symbol}` : action;
  const result = $("control-result");
  if (!$("control-token").value) {  // the server would refuse it (401): say so without asking
    result.textContent = `${what}: type the run's token ($ARB_DASHBOARD_TOKEN) first; nothing sent`;
    result.className = "small neg";
    return;
  }
  result.textContent = `${what}: sending…`;
  result.className = "small muted";
  try {
    const response = await fetch(`/api/control/${action}`, {
      method: "POST", cache: "no-store", body: JSON.stringify(symbol ? { symbol } : {}),
      headers: { "Authorization": `Bearer ${$("control-token").value}`, "Content-Type": "application/json" },
    });
    const body = await response.json();
    result.textContent = response.ok ? `${what}: queued; ${body.note}` : body.error;
    result.className = response.ok ? "small" : "small neg";
  } catch (e) {
    result.textContent = `${what}: the dashboard did not answer`;
    result.className = "small neg";
  }
}

$("control-kill").addEventListener("click", () => {
  if (window.confirm("Engage the kill switch? No new trades or quotes for the rest of this run.")) control("kill_switch");
});
$("control-cancel").addEventListener("click", () => control("cancel_quotes"));

function renderRisk(doc) {
  const live = doc.live;
  const rows = [];  // [label, value, class]
  if (live) {
    const risk = live.risk;
    rows.push(["kill switch", risk.kill_switch ? `ON${risk.kill_reason ? ": " + risk.kill_reason : ""}` : "off",
      risk.kill_switch ? "neg" : ""]);
    rows.push(["PnL today / loss limit", `${risk.pnl_today ?? "-"} / -${risk.daily_loss_limit ?? "-"}`,
      risk.daily_limit_reached ? "neg" : ""]);
    const open = Object.entries(risk.breakers).filter(([, state]) => state !== "closed");
    rows.push(["breakers", open.length ? open.map(([v, st]) => `${v} ${st}`).join(", ") : "all closed",
      open.length ? "neg" : ""]);
    if (risk.auth_failed.length) rows.push(["auth failed", risk.auth_failed.join(", "), "neg"]);
    if (live.stale_balances.length) rows.push(["stale balances", live.stale_balances.join(", "), "neg"]);
    for (const e of live.exposure) rows.push([`unhedged ${e.venue} ${e.asset}`, e.amount, ""]);
  }
  const stop = (live && live.stop_reason) || doc.stop_reason || doc.run.status_reason;
  if (stop) rows.push(["stopped", stop, ""]);
  // Handled failures (the run went on): counted here; incidents that stopped trading are listed above.
  const handled = live ? live.incidents : doc.incidents;
  const happened = Object.entries(handled).filter(([, n]) => n > 0);
  rows.push(...happened.map(([label, n]) => [label, count(n), "neg"]));
  if (!happened.length) rows.push(["feed and task failures", "none", ""]);
  const box = el("div", null, "kv");
  for (const [label, value, cls] of rows) box.append(el("div", label, "muted"), el("div", value, cls));
  $("risk").replaceChildren(box);
}

// ---------------------------------------------------------------- the PnL curve (inline SVG)
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceTicks(lo, hi, n) {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function drawCurve(curve, run, marketNow) {
  const box = $("curve");
  // User units = CSS pixels, so text is not stretched: the view box follows the drawn width.
  const W = Math.max(300, Math.round(box.getBoundingClientRect().width)), H = 300, L = 70, R = 14, T = 12, B = 26;
  box.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const pts = curve.points.map(([t, e, r, q]) => [t, parseFloat(e), parseFloat(r), q === null ? null : parseFloat(q)]);
  if (!pts.length) {
    box.replaceChildren(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" },
      "no trades yet"));
    $("curve-note").textContent = "";
    return;
  }
  const t0 = run.market_started_at ?? pts[0][0];
  // To the run's end, or (running) to its market time now: the flat stretch since the last trade shows.
  const t1 = Math.max(pts[pts.length - 1][0], run.market_ended_at ?? marketNow ?? 0, t0 + 1000);
  const values = pts.flatMap((p) => (p[3] === null ? [p[1], p[2]] : [p[1], p[2], p[3]])).concat([0]);
  let lo = Math.min(...values), hi = Math.max(...values);
  const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.1 || 1;
  lo -= pad; hi += pad;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const nodes = [];
  for (const v of niceTicks(lo, hi, 5)) {
    if (v < lo || v > hi) continue;
    nodes.push(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: v === 0 ? "zero" : "grid-line" }));
    nodes.push(svg("text", { x: L - 8, y: y(v) + 4, "text-anchor": "end" }, String(v)));
  }
  for (let i = 0; i <= 5; i++) {
    const t = t0 + ((t1 - t0) * i) / 5;
    nodes.push(svg("text", { x: x(t), y: H - 8, "text-anchor": i === 0 ? "start" : i === 5 ? "end" : "middle" },
      utc(t, false).slice(0, 5) + (t1 - t0 < 600000 ? utc(t, false).slice(5, 8) : "")));
  }
  nodes.push(svg("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }));
  // A step line: the cumulative figure changes at each trade and holds until the next.
  // Equity stops where a position has no mark (its value is unknown, not 0).
  const step = (k) => {
    let d = `M${x(t0)},${y(0)}`;
    for (const p of pts) {
      if (p[k] === null) return d;
      d += `H${x(p[0])}V${y(p[k])}`;
    }
    return d + `H${x(t1)}`;
  };
  nodes.push(svg("path", { d: `${step(2)}V${y(0)}Z`, class: "realized-area" }));
  nodes.push(svg("path", { d: step(3), class: "equity" }));
  nodes.push(svg("path", { d: step(2), class: "realized" }));
  nodes.push(svg("path", { d: step(1), class: "expected" }));  // dashed, on top: both show where they agree
  box.replaceChildren(...nodes);
  const sampled = curve.of > pts.length ? ` (${pts.length} of ${count(curve.of)} points drawn)` : "";
  $("curve-note").textContent = `${count(curve.of)} executed opportunities, market time (UTC)${sampled}; ` +
    (lastDoc && lastDoc.holdings
      ? "the pairs' realized and their open positions; a perpetual traded: the header's equity is the holdings'"
      : "equity = realized + open positions at the mid of the run's end (running: now)");
}

setInterval(tickElapsed, 1000);
window.addEventListener("resize", () => {
  if (lastDoc) drawCurve(lastDoc.curve, lastDoc.run, lastDoc.live ? lastDoc.live.market_ms : null);
});
connect();
