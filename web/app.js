// switchboard dashboard: renders the snapshot the admin listener pushes over
// server-sent events (/ui/events), and starts and cancels zonal shifts
// (/ui/api/shifts). Plain DOM, no framework, no build step. Text from the
// server always goes in through textContent, never as HTML.
"use strict";

const tokenKey = "switchboard-ui-token";
const seenEvents = new Set();
let firstRender = true;

// el builds an element: attrs are attributes (class, aria-*, data-*),
// children are nodes or strings (added as text).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// td is a table cell that names its column, for the stacked layout of
// narrow screens (style.css shows the label before the cell there).
function td(label, attrs, ...children) {
  return el("td", Object.assign({ "data-label": label }, attrs || {}), ...children);
}

function badge(text, cls) { return el("span", { class: "badge " + cls }, text); }

function statusBadge(status) { return badge(status, status); }

function fmtTime(s) {
  if (!s) return "";
  const d = new Date(s);
  return d.toLocaleTimeString([], { hour12: false });
}

function timeEl(s) {
  return el("time", { datetime: s, title: s ? new Date(s).toString() : "" }, fmtTime(s));
}

function replace(id, ...nodes) {
  document.getElementById(id).replaceChildren(...nodes);
}

function empty(text) { return el("p", { class: "empty" }, text); }

function renderSummary(d) {
  const healthy = d.target_groups.reduce((n, g) => n + g.healthy, 0);
  const registered = d.target_groups.reduce((n, g) => n + g.registered, 0);
  let text = `view version ${d.view_version} · desired version ${d.config.desired_version} · ${healthy} of ${registered} targets healthy`;
  if (!d.config.ok) text += " · configuration refused: " + (d.config.errors || []).join("; ");
  document.getElementById("summary").textContent = text;
}

function renderTargets(d) {
  if (d.target_groups.length === 0) {
    replace("targets-body", empty("No target groups."));
    return;
  }
  const zones = [...d.zones];
  for (const g of d.target_groups) for (const z of g.zones) if (!zones.includes(z.name)) zones.push(z.name);
  const head = el("tr", {}, el("th", { scope: "col" }, "Target group"), zones.map(z => el("th", { scope: "col" }, "zone " + z)));
  const rows = d.target_groups.map(g => {
    const gname = el("th", { scope: "row" }, g.name, el("div", { class: "reason" }, `${g.protocol} · ${g.healthy}/${g.registered} healthy`),
      g.failing_open ? badge("failing open", "bad") : null);
    const cells = zones.map(zn => {
      const z = g.zones.find(x => x.name === zn);
      if (!z) return td("zone " + zn, { class: "empty" }, "—");
      const flags = [];
      if (z.shifted) flags.push(badge("shifted away", "warn"));
      if (z.failing_open) flags.push(badge("failing open", "bad"));
      if (!z.dns_healthy) flags.push(badge("below DNS threshold", "warn"));
      const list = el("ul", { class: "plain" }, z.targets.map(t =>
        el("li", { class: "target", "data-target": g.name + "/" + t.addr, "data-status": t.status },
          el("span", { class: "addr" }, t.addr), statusBadge(t.status),
          t.status !== "healthy" && t.reason ? el("span", { class: "reason" }, t.reason) : null)));
      const routable = el("div", { class: "routable" }, "routable: " + (z.routable.length ? z.routable.join(", ") : "none"));
      return td("zone " + zn, { "data-zone": zn }, el("div", {}, `${z.healthy}/${z.targets.length} healthy `, flags), list, routable);
    });
    return el("tr", { "data-group": g.name }, gname, cells);
  });
  replace("targets-body", el("table", {}, el("caption", { class: "visually-hidden" }, "Targets by target group and zone"),
    el("thead", {}, head), el("tbody", {}, rows)));
}

function renderBalancers(d) {
  if (d.load_balancers.length === 0) {
    replace("balancers-body", empty("No load balancers."));
    return;
  }
  const head = el("tr", {}, ["Load balancer", "DNS answers now", "Nodes"].map(h => el("th", { scope: "col" }, h)));
  const rows = d.load_balancers.map(lb => el("tr", { "data-balancer": lb.name },
    el("th", { scope: "row" }, lb.name, lb.dns_name ? el("div", { class: "reason" }, lb.dns_name) : null,
      lb.healthy ? null : badge("no healthy target group", "bad")),
    td("DNS answers now", {}, el("span", { class: "addr" }, lb.dns_addresses.length ? lb.dns_addresses.join(", ") : "nothing"),
      lb.dns_failing_open ? el("div", {}, badge("DNS failing open", "bad")) : null),
    td("Nodes", {}, el("ul", { class: "plain" }, lb.nodes.map(n => el("li", {},
      `zone ${n.zone}: `, el("span", { class: "addr" }, n.addresses.join(", ")), " ",
      n.in_dns ? badge("in DNS", "ok") : badge("out of DNS", "warn"),
      n.reason ? el("span", { class: "reason" }, " " + n.reason) : null))))));
  replace("balancers-body", el("table", {}, el("thead", {}, head), el("tbody", {}, rows)));
}

function renderRecords(d) {
  if (d.records.length === 0) {
    replace("records-body", empty("No record groups."));
    return;
  }
  const head = el("tr", {}, ["Name", "Policy", "Answering now", "Why", "Records"].map(h => el("th", { scope: "col" }, h)));
  const rows = d.records.map(r => el("tr", { "data-record": r.name + " " + r.type },
    el("th", { scope: "row" }, el("span", { class: "addr" }, r.name), " ", r.type),
    td("Policy", {}, r.policy),
    td("Answering now", {}, el("span", { class: "addr" }, r.answering.join(", ") || "nothing"), r.failing_open ? el("div", {}, badge("failing open", "bad")) : null),
    td("Why", {}, r.why),
    td("Records", {}, el("ul", { class: "plain" }, r.records.map(x => el("li", {},
      x.set_identifier ? el("strong", {}, x.set_identifier + " ") : null,
      x.routing ? `(${x.routing}) ` : "", el("span", { class: "addr" }, x.answer), " ",
      statusBadge(x.healthy ? "healthy" : "unhealthy"),
      x.reason ? el("span", { class: "reason" }, " " + x.reason) : null))))));
  replace("records-body", el("table", {}, el("thead", {}, head), el("tbody", {}, rows)));
}

// spark draws recent probe latencies as a line, with a text equivalent.
function spark(ms) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 100 24");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  if (!ms.length) {
    svg.setAttribute("aria-label", "no probes yet");
    return svg;
  }
  const max = Math.max(...ms), min = Math.min(...ms);
  const lastMs = ms[ms.length - 1];
  svg.setAttribute("aria-label", `latency of the last ${ms.length} probes: last ${lastMs.toFixed(1)} ms, min ${min.toFixed(1)} ms, max ${max.toFixed(1)} ms`);
  const step = ms.length > 1 ? 100 / (ms.length - 1) : 0;
  const pts = ms.map((v, i) => `${(i * step).toFixed(1)},${(22 - (max > 0 ? v / max : 0) * 20).toFixed(1)}`);
  if (ms.length === 1) pts.push(`100,${pts[0].split(",")[1]}`);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.join(" "));
  svg.append(line);
  return svg;
}

function renderChecks(d) {
  if (d.checks.length === 0) {
    replace("checks-body", empty("No health checks."));
    return;
  }
  const head = el("tr", {}, ["Check", "Status", "Latency", "Last error"].map(h => el("th", { scope: "col" }, h)));
  const rows = d.checks.map(c => {
    const ms = c.latencies_ms;
    return el("tr", { "data-check": c.check + (c.target ? " " + c.target : ""), "data-status": c.status },
      el("th", { scope: "row" }, c.check, c.target ? el("div", { class: "addr" }, c.target) : null),
      td("Status", {}, statusBadge(c.status), c.since ? el("div", { class: "reason" }, "since ", timeEl(c.since)) : null),
      td("Latency", {}, spark(ms), ms.length ? el("div", { class: "reason" }, `${ms[ms.length - 1].toFixed(1)} ms`) : null),
      td("Last error", {}, c.last_error ? el("span", { class: "reason" }, c.last_error, " at ", timeEl(c.last_error_time)) : el("span", { class: "empty" }, "none")));
  });
  const children = [el("thead", {}, head), el("tbody", {}, rows)];
  const nodes = [el("table", {}, children)];
  if (d.checks_omitted) nodes.push(el("p", { class: "hint" }, `${d.checks_omitted} more not shown; see /metrics.`));
  replace("checks-body", ...nodes);
}

function resourceLabel(s) {
  return s.load_balancer ? "load balancer " + s.load_balancer : "target group " + s.target_group;
}

function renderShifts(d) {
  if (d.shifts.length === 0) {
    replace("shifts-body", empty("No zonal shifts."));
  } else {
    const head = el("tr", {}, ["Resource", "Away from", "Until", "Comment", ""].map(h => el("th", { scope: "col" }, h)));
    const rows = d.shifts.map(s => el("tr", { "data-shift": resourceLabel(s) },
      el("th", { scope: "row" }, resourceLabel(s), " ", s.active ? badge("active", "warn") : badge("expired", "unknown")),
      td("Away from", {}, "zone " + s.away_from),
      td("Until", {}, timeEl(s.expires_at)),
      td("Comment", {}, s.comment || ""),
      td("", {}, d.shifts_writable ? cancelButton(s) : null)));
    replace("shifts-body", el("table", {}, el("thead", {}, head), el("tbody", {}, rows)));
  }
  // The form: keep what the user chose; only change options that changed.
  document.getElementById("shift-readonly").hidden = d.shifts_writable;
  document.getElementById("shift-start").disabled = !d.shifts_writable;
  const resources = [];
  for (const lb of d.load_balancers) resources.push({ value: "load_balancer:" + lb.name, label: "load balancer " + lb.name, zones: [...new Set(lb.nodes.map(n => n.zone))] });
  for (const g of d.target_groups) resources.push({ value: "target_group:" + g.name, label: "target group " + g.name, zones: g.zones.map(z => z.name) });
  setOptions(document.getElementById("shift-resource"), resources);
  updateZones();
}

let resourceZones = new Map();

function setOptions(select, opts) {
  if (select.id === "shift-resource") resourceZones = new Map(opts.map(o => [o.value, o.zones]));
  const want = opts.map(o => o.value + "=" + o.label).join("|");
  if (select.dataset.options === want) return;
  const cur = select.value;
  select.replaceChildren(...opts.map(o => el("option", { value: o.value }, o.label)));
  if (opts.some(o => o.value === cur)) select.value = cur;
  select.dataset.options = want;
}

function updateZones() {
  const zones = resourceZones.get(document.getElementById("shift-resource").value) || [];
  setOptions(document.getElementById("shift-zone"), zones.map(z => ({ value: z, label: "zone " + z })));
}

function cancelButton(s) {
  const b = el("button", { type: "button", class: "secondary", "aria-label": `Cancel the zonal shift of ${resourceLabel(s)} away from zone ${s.away_from}` }, "Cancel");
  b.addEventListener("click", () => {
    const q = s.load_balancer ? "load_balancer=" + encodeURIComponent(s.load_balancer) : "target_group=" + encodeURIComponent(s.target_group);
    send("DELETE", "/ui/api/shifts?" + q, null, `Cancelled the shift of ${resourceLabel(s)}.`);
  });
  return b;
}

function renderEvents(d) {
  const items = d.events.map(e => el("li", { "data-kind": e.kind },
    timeEl(e.time), el("span", {}, badge(e.kind, e.level)), el("span", {}, e.text)));
  if (items.length === 0) items.push(el("li", { class: "empty" }, "No events yet."));
  replace("events-body", ...items);
  // Announce what is new to screen readers, a few at a time.
  const fresh = [];
  for (const e of d.events) {
    const k = e.time + " " + e.text;
    if (!seenEvents.has(k)) {
      seenEvents.add(k);
      fresh.push(e.text);
    }
  }
  if (!firstRender && fresh.length) {
    document.getElementById("announce").textContent = fresh.slice(0, 3).join(". ");
  }
  if (seenEvents.size > 1000) seenEvents.clear();
}

// rendered holds what each section was last drawn from: a section is
// redrawn only when its data changed, so that a keyboard user's focus (on
// a Cancel button, say) survives the snapshots that change something else.
const rendered = new Map();

function section(name, data, draw, d) {
  const key = JSON.stringify(data);
  if (rendered.get(name) === key) return;
  rendered.set(name, key);
  draw(d);
}

function render(d) {
  section("summary", [d.view_version, d.config, d.target_groups.map(g => [g.healthy, g.registered])], renderSummary, d);
  section("targets", [d.zones, d.target_groups], renderTargets, d);
  section("balancers", d.load_balancers, renderBalancers, d);
  section("records", d.records, renderRecords, d);
  section("checks", [d.checks, d.checks_omitted], renderChecks, d);
  section("shifts", [d.shifts, d.shifts_writable, d.load_balancers.map(l => [l.name, l.nodes.map(n => n.zone)]), d.target_groups.map(g => [g.name, g.zones.map(z => z.name)])], renderShifts, d);
  section("events", d.events, renderEvents, d);
  firstRender = false;
  document.body.dataset.viewVersion = d.view_version;
}

function setConn(text, cls) {
  const c = document.getElementById("conn");
  c.textContent = text;
  c.className = "conn " + cls;
}

function connect() {
  const es = new EventSource("/ui/events");
  es.addEventListener("snapshot", ev => {
    setConn("live", "live");
    render(JSON.parse(ev.data));
  });
  es.addEventListener("open", () => setConn("live", "live"));
  es.addEventListener("error", () => {
    setConn("reconnecting…", "down");
    // The browser retries by itself after a network error, but gives up
    // after an HTTP error (such as 503 while the server drains): retry then.
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
  });
}

async function send(method, url, body, okText) {
  const result = document.getElementById("shift-result");
  result.className = "result";
  result.textContent = "Sending…";
  const token = document.getElementById("shift-token").value.trim();
  try {
    const resp = await fetch(url, {
      method,
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
      body: body ? JSON.stringify(body) : undefined,
    });
    const out = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      result.className = "result error";
      result.textContent = (out.error || resp.statusText) + (out.problems ? ": " + out.problems.join("; ") : "");
      return;
    }
    result.textContent = `${okText} Desired state version ${out.version}.`;
  } catch (err) {
    result.className = "result error";
    result.textContent = "Request failed: " + err.message;
  }
}

function init() {
  const token = document.getElementById("shift-token");
  token.value = sessionStorage.getItem(tokenKey) || "";
  token.addEventListener("input", () => sessionStorage.setItem(tokenKey, token.value));
  document.getElementById("shift-resource").addEventListener("change", updateZones);
  document.getElementById("shift-form").addEventListener("submit", ev => {
    ev.preventDefault();
    const [kind, name] = document.getElementById("shift-resource").value.split(/:(.*)/s);
    const zone = document.getElementById("shift-zone").value;
    if (!name || !zone) {
      const result = document.getElementById("shift-result");
      result.className = "result error";
      result.textContent = "Choose a resource and a zone.";
      return;
    }
    const body = { away_from: zone, expires_in: document.getElementById("shift-duration").value, comment: document.getElementById("shift-comment").value };
    body[kind] = name;
    send("POST", "/ui/api/shifts", body, `Started moving ${kind.replace("_", " ")} ${name} away from zone ${zone}.`);
  });
  connect();
}

document.addEventListener("DOMContentLoaded", init);
