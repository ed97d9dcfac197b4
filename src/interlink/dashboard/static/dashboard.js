// The interlink dashboard: polls the JSON API once a second and redraws every panel.
"use strict";

const POLL_MS = 1000;
const SVG = "http://www.w3.org/2000/svg";
let chosenSaga = null;
let chosenTrace = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

const ms = (s) => (s === null || s === undefined ? "–" : `${(s * 1000).toFixed(1)} ms`);
const pct = (p) => `${p.toFixed(1)}%`;
const rate = (r) => r.toFixed(2);
const when = (t) => new Date(t * 1000).toLocaleTimeString();
const num = (v) => el("td", { class: "num" }, v);

async function getJSON(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function fillTable(id, rows, render) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows.map(render));
  if (!rows.length) {
    const columns = document.querySelectorAll(`#${id} thead th`).length;
    body.append(el("tr", {}, el("td", { class: "empty", colspan: columns }, "nothing yet")));
  }
}

function statsCells(row) {
  return [num(rate(row.rate)), num(pct(row.error_pct)), num(ms(row.p50)), num(ms(row.p95)), num(ms(row.p99))];
}

function layout(nodes, edges) {
  // Columns by longest path from a node nothing points at (bounded: a cycle stops growing).
  const depth = Object.fromEntries(nodes.map((n) => [n.id, 0]));
  for (let round = 0; round < nodes.length; round++) {
    for (const e of edges) {
      if (e.source !== e.target && depth[e.target] < depth[e.source] + 1) depth[e.target] = depth[e.source] + 1;
    }
  }
  const columns = {};
  for (const n of nodes) (columns[depth[n.id]] ||= []).push(n);
  const graph = document.getElementById("graph");
  const width = graph.clientWidth || 900;
  const height = graph.clientHeight || 320;
  const count = Object.keys(columns).length;
  const place = {};
  for (const [col, members] of Object.entries(columns)) {
    members.forEach((n, i) => {
      place[n.id] = { x: ((+col + 0.5) * width) / count, y: ((i + 0.5) * height) / members.length };
    });
  }
  return place;
}

const nodeWidth = (id) => Math.max(90, id.length * 7 + 20);

function drawGraph(topology) {
  const graph = document.getElementById("graph");
  const place = layout(topology.nodes, topology.edges);
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#6b7385" }));
  const defs = svg("defs");
  defs.append(marker);
  const parts = [defs];
  for (const e of topology.edges) {
    const a = place[e.source], b = place[e.target];
    const failing = e.error_pct > 0 ? " failing" : "";
    // Stop the line at the target's box, so the arrowhead shows.
    const dx = b.x - a.x, dy = b.y - a.y;
    const t = Math.min(Math.abs(dx) > 0 ? nodeWidth(e.target) / 2 / Math.abs(dx) : 1, Math.abs(dy) > 0 ? 14 / Math.abs(dy) : 1, 1);
    parts.push(svg("line", { class: `edge ${e.kind}${failing}`, x1: a.x, y1: a.y, x2: b.x - t * dx, y2: b.y - t * dy,
      "marker-end": "url(#arrow)",
      "data-edge": `${e.source}->${e.target}`, "data-kind": e.kind }));
    parts.push(svg("text", { class: "label", x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 4,
      "data-edge-label": `${e.source}->${e.target}` },
      `${rate(e.rate)}/s · ${pct(e.error_pct)} · p95 ${ms(e.p95)}`));
  }
  for (const n of topology.nodes) {
    const p = place[n.id];
    const w = nodeWidth(n.id);
    const g = svg("g", { class: `node ${n.kind}`, "data-node": n.id, "data-kind": n.kind });
    g.append(svg("rect", { x: p.x - w / 2, y: p.y - 14, width: w, height: 28, rx: 4 }), svg("text", { x: p.x, y: p.y }, n.id));
    parts.push(g);
  }
  graph.replaceChildren(...parts);
  fillTable("edges", topology.edges, (e) =>
    el("tr", { class: e.error_pct > 0 ? "bad" : "", "data-edge": `${e.source}->${e.target}` },
      el("td", {}, e.source), el("td", {}, e.target), el("td", {}, e.kind), ...statsCells(e)));
}

function drawBreakers(breakers) {
  const box = document.getElementById("breakers");
  box.replaceChildren(...breakers.current.map((b) =>
    el("span", { class: `badge ${b.state}`, "data-breaker": b.target, "data-state": b.state }, `${b.target}: ${b.state}`)));
  if (!breakers.current.length) box.append(el("span", { class: "empty" }, "no breakers reported"));
  const timeline = document.getElementById("breaker-timeline");
  timeline.replaceChildren(...breakers.timeline.slice(-50).reverse().map((c) =>
    el("li", {}, `${when(c.time)} ${c.target} → ${c.state} (${c.instance})`)));
}

function drawRed(rows) {
  fillTable("red", rows, (r) =>
    el("tr", { class: r.error_pct > 0 ? "bad" : "", "data-operation": `${r.service}.${r.operation}` },
      el("td", {}, r.service), el("td", {}, r.operation), el("td", {}, r.kind), ...statsCells(r)));
}

function drawBroker(rows) {
  const show = (v) => (v === null ? "–" : v);
  fillTable("broker", rows, (r) =>
    el("tr", { "data-destination": `${r.destination}/${r.group}` },
      el("td", {}, r.destination), el("td", {}, r.group), num(show(r.pending)), num(show(r.unacknowledged)),
      num(show(r.redelivered)), num(show(r.dead_letters))));
}

async function replay(letter, button) {
  button.disabled = true;
  const response = await fetch("/api/dead-letters/replay", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ topic: letter.topic, envelope_id: letter.envelope_id }),
  });
  button.textContent = response.ok ? `replayed (${(await response.json()).replayed})` : "failed";
}

function drawDeadLetters(answer) {
  fillTable("dead-letters", answer.dead_letters, (d) => {
    const button = el("button", { "data-replay": d.envelope_id || "" }, "replay");
    button.addEventListener("click", () => replay(d, button));
    return el("tr", { "data-dead-letter": d.envelope_id || "" },
      el("td", {}, d.topic), el("td", {}, d.group), el("td", {}, d.envelope_id || "?"),
      el("td", {}, `${d.error_type}: ${d.error_message}`), num(d.deliveries), el("td", {}, button));
  });
}

function drawSagas(answer) {
  fillTable("sagas", answer.sagas, (s) => {
    const row = el("tr", { class: "clickable", "data-saga": s.id },
      el("td", {}, s.name), el("td", {}, s.id), el("td", {}, s.key || ""), el("td", {}, s.status),
      el("td", {}, s.step || ""), el("td", {}, s.error || ""));
    row.addEventListener("click", () => { chosenSaga = s.id; refreshSaga(); });
    return row;
  });
}

function bars(items, start, span) {
  // One row per item: a name, and a bar placed on the shared time axis.
  return items.map((it) => {
    const left = span > 0 ? ((it.start - start) / span) * 100 : 0;
    const width = span > 0 ? Math.max(0.3, ((it.end - it.start) / span) * 100) : 100;
    const bar = el("div", { class: `bar ${it.cls}`, style: `left:${left}%;width:${width}%`, title: it.title });
    return el("div", { class: "bar-row", ...it.attrs }, el("div", { class: "name", style: `padding-left:${it.indent}em` }, it.name), el("div", { class: "bar-track" }, bar));
  });
}

async function refreshSaga() {
  const box = document.getElementById("saga-detail");
  if (chosenSaga === null) return;
  const saga = await getJSON(`/api/sagas/${encodeURIComponent(chosenSaga)}`);
  const attempts = saga.steps.flatMap((step) => step.attempts.map((a) => ({
    start: a.started_at, end: a.ended_at ?? a.started_at, cls: a.error ? "error" : "",
    name: `${step.name} · ${a.kind} #${a.number}`, indent: 0, title: a.error || step.status,
    attrs: { "data-step": step.name },
  })));
  const start = Math.min(...attempts.map((a) => a.start));
  const end = Math.max(...attempts.map((a) => a.end));
  box.replaceChildren(el("h3", {}, `${saga.name} ${saga.id}: ${saga.status}`),
    ...(attempts.length ? bars(attempts, start, end - start) : [el("p", { class: "empty" }, "no steps run yet")]));
}

function drawTraces(answer) {
  fillTable("traces", answer.traces, (t) => {
    const row = el("tr", { class: `clickable${t.errors ? " bad" : ""}`, "data-trace": t.trace_id },
      el("td", {}, when(t.start)), el("td", {}, `${t.service} ${t.name}`), el("td", {}, t.services.join(", ")),
      num(t.spans), num(t.errors), num(ms(t.duration)));
    row.addEventListener("click", () => { chosenTrace = t.trace_id; refreshTrace(); });
    return row;
  });
}

async function refreshTrace() {
  if (chosenTrace === null) return;
  const answer = await getJSON(`/api/traces/${chosenTrace}`);
  const spans = answer.spans;
  const start = Math.min(...spans.map((s) => s.start));
  const end = Math.max(...spans.map((s) => s.end));
  const items = spans.map((s) => ({
    start: s.start, end: s.end, cls: s.status === "error" ? "error" : s.kind, indent: s.depth,
    name: `${s.service} · ${s.kind} · ${s.name}`, title: `${ms(s.duration)}${s.error_type ? " " + s.error_type : ""}`,
    attrs: { "data-span": s.span_id },
  }));
  document.getElementById("waterfall").replaceChildren(el("h3", {}, `trace ${chosenTrace}`), ...bars(items, start, end - start));
}

async function tick() {
  const status = document.getElementById("status");
  try {
    const [overview, letters, sagas, traces] = await Promise.all([
      getJSON("/api/overview"), getJSON("/api/dead-letters"), getJSON("/api/sagas"), getJSON("/api/traces"),
    ]);
    drawGraph(overview.topology);
    drawBreakers(overview.breakers);
    drawRed(overview.red);
    drawBroker(overview.broker);
    drawDeadLetters(letters);
    drawSagas(sagas);
    drawTraces(traces);
    await Promise.all([refreshSaga(), refreshTrace()]);
    status.textContent = `${overview.instances.length} instance(s) · window ${overview.window}s · updated ${when(overview.now)}`;
    status.className = "";
    status.dataset.rounds = overview.rounds;
  } catch (error) {
    status.textContent = `not updating: ${error.message}`;
    status.className = "stale";
  }
}

async function loop() {
  await tick();
  setTimeout(loop, POLL_MS);
}

loop();
