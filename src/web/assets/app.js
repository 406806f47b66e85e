// The cafleet admin page: a hash router over three views (fleets, one fleet, one pane),
// fed by the JSON API and refreshed by the server-sent `versions` stream. Every value is
// put on the page with text nodes, never parsed as HTML: message bodies are hostile.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const enc = encodeURIComponent;

async function api(path, options) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options));
  let data = null;
  try { data = await response.json(); } catch (_) { /* not JSON */ }
  if (!response.ok) {
    const message = data && data.error ? data.error : `${response.status} ${response.statusText}`;
    const hints = data && data.hints && data.hints.length ? ` (hint: ${data.hints.join("; ")})` : "";
    throw new Error(message + hints);
  }
  return data;
}

function showError(err) {
  const box = $("error");
  if (err) { box.textContent = "error: " + err.message; box.hidden = false; }
  else { box.hidden = true; box.textContent = ""; }
}

function time(ts) {
  return ts ? ts.replace("T", " ").replace(/\.\d+Z$/, "").replace(/Z$/, "") : "";
}

function badge(state) {
  return el("span", { class: `state state-${state}` }, state);
}

// ---- routing

let current = { view: "fleets" };

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "fleet" && parts[1] && parts[2] === "pane" && parts[3]) {
    return { view: "pane", fleet: parts[1], agent: parts[3] };
  }
  if (parts[0] === "fleet" && parts[1]) return { view: "fleet", fleet: parts[1] };
  return { view: "fleets" };
}

function crumbs(route) {
  const nav = $("crumbs");
  nav.replaceChildren();
  if (route.fleet) {
    nav.append("/ ", el("a", { href: `#/fleet/${enc(route.fleet)}` }, route.fleet));
  }
  if (route.agent) nav.append(" / ", route.agent, " pane");
}

async function render() {
  const route = parseRoute();
  const switched = route.view !== current.view || route.fleet !== current.fleet || route.agent !== current.agent;
  current = route;
  for (const view of ["fleets", "fleet", "pane"]) $("view-" + view).hidden = view !== route.view;
  crumbs(route);
  if (switched) {
    $("thread").value = "";
    lastAgents = "";
  }
  try {
    if (route.view === "fleets") await loadFleets();
    if (route.view === "fleet") await Promise.all([loadAgents(), loadTimeline(), loadEvents(), loadOperator()]);
    if (route.view === "pane") await loadPane();
    showError(null);
  } catch (err) {
    showError(err);
  }
}

// ---- fleets

async function loadFleets() {
  const fleets = await api("/api/fleets");
  const rows = fleets.map((f) => el("tr", { "data-fleet": f.name },
    el("td", {}, el("a", { href: `#/fleet/${enc(f.name)}` }, f.name)),
    el("td", {}, badge(f.status)),
    el("td", {}, f.origin),
    el("td", {}, f.agents),
    el("td", {}, f.unread),
    el("td", { class: "operator-unread" }, f.operator_unread),
    el("td", { class: "muted" }, f.session),
    el("td", { class: "muted" }, time(f.created_at))));
  $("fleets").tBodies[0].replaceChildren(...rows);
  $("no-fleets").hidden = fleets.length > 0;
}

// ---- one fleet

let lastAgents = "";

async function loadAgents() {
  const fleet = current.fleet;
  const agents = await api(`/api/fleets/${enc(fleet)}/agents`);
  const rows = agents.map((a) => el("tr", { "data-agent": a.name },
    el("td", {}, el("strong", {}, a.name)),
    el("td", {}, a.role),
    el("td", {}, a.backend),
    el("td", {}, a.model || "-"),
    el("td", { title: a.reason || "" }, badge(a.state)),
    el("td", { class: "unread" }, a.unread),
    el("td", {}, a.pane
      ? el("a", { href: `#/fleet/${enc(fleet)}/pane/${enc(a.name)}` },
        a.host ? `${a.pane} on ${a.host} text` : `${a.pane} text`)
      : "-")));
  $("agents").tBodies[0].replaceChildren(...rows);

  // Keep the operator's choices in the selects when the list did not change.
  const names = agents.map((a) => a.name);
  if (names.join("\n") === lastAgents) return;
  lastAgents = names.join("\n");
  const to = $("send-to");
  const chosen = to.value;
  to.replaceChildren(el("option", { value: "*" }, "everyone (broadcast)"),
    ...names.map((n) => el("option", { value: n }, n)),
    el("option", { value: "operator" }, "operator (when sending as the Director)"));
  if ([...to.options].some((o) => o.value === chosen)) to.value = chosen;
  else if (names.length) to.value = names.find((n) => agents.find((a) => a.name === n).role !== "director") || names[0];
  // The page speaks as the operator, or as the fleet's Director.
  const from = $("send-from");
  const speaker = from.value;
  const director = agents.find((a) => a.role === "director");
  from.replaceChildren(el("option", { value: "operator" }, "operator"),
    ...(director ? [el("option", { value: director.name }, `${director.name} (Director)`)] : []));
  from.value = [...from.options].some((o) => o.value === speaker) ? speaker : "operator";
  const thread = $("thread");
  const member = thread.value;
  thread.replaceChildren(el("option", { value: "" }, "everyone"),
    el("option", { value: "operator" }, "operator"),
    ...names.map((n) => el("option", { value: n }, n)));
  thread.value = member;
}

// Broadcast rows share a `broadcast_id`: show them as one entry listing each recipient.
function groupMessages(messages) {
  const entries = [];
  const byBroadcast = new Map();
  for (const m of messages) {
    if (m.broadcast_id !== null && m.broadcast_id !== undefined) {
      let entry = byBroadcast.get(m.broadcast_id);
      if (!entry) {
        entry = { first: m, recipients: [] };
        byBroadcast.set(m.broadcast_id, entry);
        entries.push(entry);
      }
      entry.recipients.push(m);
    } else {
      entries.push({ first: m, recipients: null });
    }
  }
  return entries;
}

function messageItem(entry) {
  const m = entry.first;
  const meta = el("div", { class: "meta" }, el("span", { class: "id" }, `#${m.id}`));
  if (entry.recipients) {
    meta.append(el("span", { class: "who" }, `${m.sender} → everyone`), el("span", {}, "broadcast"));
    for (const r of entry.recipients) meta.append(el("span", { class: "recipient" }, r.recipient, " ", badge(r.state)));
  } else {
    meta.append(el("span", { class: "who" }, `${m.sender} → ${m.recipient}`), badge(m.state));
    if (m.kind !== "message") meta.append(el("span", {}, m.kind));
    if (m.state_reason) meta.append(el("span", { title: "why it is still queued" }, m.state_reason));
  }
  meta.append(el("time", { dateTime: m.created_at }, time(m.created_at)));
  // Lists carry a preview of each body; a long one is fetched whole on request.
  const body = el("div", { class: "body" }, m.preview + (m.truncated ? "…" : ""));
  const item = el("li", { class: entry.recipients ? "broadcast" : "message", "data-id": m.id }, meta, body);
  if (m.truncated) {
    const more = el("button", { type: "button", class: "more" }, `whole message (${m.size} bytes)`);
    more.addEventListener("click", () => {
      api(`/api/fleets/${enc(current.fleet)}/messages/${m.id}`)
        .then((full) => { body.textContent = full.body; more.remove(); })
        .catch(showError);
    });
    item.append(more);
  }
  return item;
}

// The timeline shows the newest page of messages, and one more older page each time
// "Older messages" is pressed; a live refresh reloads as many pages as are shown, so the
// older ones stay. The server caps a page at 200 previews.
const TIMELINE_PAGE = 100;
const timeline = { fleet: null, member: null, pages: 1 };

async function loadTimeline() {
  const member = $("thread").value;
  if (member !== timeline.member || current.fleet !== timeline.fleet) {
    Object.assign(timeline, { fleet: current.fleet, member, pages: 1 });
  }
  const filter = member ? `&member=${enc(member)}` : "";
  let messages = [];
  let before = null;
  let more = false;
  for (let page = 0; page < timeline.pages; page++) {
    const batch = await api(`/api/fleets/${enc(current.fleet)}/messages?limit=${TIMELINE_PAGE}${filter}` +
      (before === null ? "" : `&before=${before}`));
    messages = batch.concat(messages);
    more = batch.length >= TIMELINE_PAGE;
    if (!more) break;
    before = batch[0].id;
  }
  const items = groupMessages(messages).reverse().map(messageItem);
  $("timeline").replaceChildren(...items);
  $("no-messages").hidden = items.length > 0;
  $("older").hidden = !more;
}

async function loadOlder() {
  timeline.pages += 1;
  try {
    await loadTimeline();
    showError(null);
  } catch (err) {
    showError(err);
  }
}

// The replies to `operator`, newest first; the unread ones are marked until "Mark read".
async function loadOperator() {
  const inbox = await api(`/api/fleets/${enc(current.fleet)}/operator?limit=100`);
  const count = $("operator-unread");
  count.textContent = inbox.unread;
  count.className = inbox.unread > 0 ? "count some" : "count";
  const items = inbox.messages.slice().reverse().map((m) => {
    const unread = m.state === "queued" || m.state === "notified";
    return el("li", { class: unread ? "message unread" : "message", "data-id": m.id },
      el("div", { class: "meta" }, el("span", { class: "id" }, `#${m.id}`),
        el("span", { class: "who" }, `${m.sender} → operator`), badge(unread ? "unread" : m.state),
        el("time", { dateTime: m.created_at }, time(m.created_at))),
      el("div", { class: "body" }, m.body));
  });
  $("operator-inbox").replaceChildren(...items);
  $("no-operator").hidden = items.length > 0;
  $("operator-read").disabled = inbox.unread === 0;
}

async function markOperatorRead() {
  try {
    await api(`/api/fleets/${enc(current.fleet)}/operator/read`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
    });
    await loadOperator();
    showError(null);
  } catch (err) {
    showError(err);
  }
}

// `{"outcome": "notified", "message_ids": [3]}` → `outcome=notified message_ids=[3]`.
function detailText(detail) {
  if (detail === null || typeof detail !== "object" || Array.isArray(detail)) return JSON.stringify(detail);
  return Object.entries(detail)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
}

async function loadEvents() {
  const events = await api(`/api/fleets/${enc(current.fleet)}/events?limit=100`);
  const items = events.reverse().map((e) => el("li", { "data-id": e.id },
    el("span", { class: "muted" }, time(e.created_at)), "  ",
    el("span", { class: "kind" }, e.kind), "  ",
    e.agent ? e.agent + "  " : "",
    detailText(e.detail)));
  $("events").replaceChildren(...items);
}

async function send(event) {
  event.preventDefault();
  const to = $("send-to").value;
  const from = $("send-from").value;
  const body = $("send-body").value;
  const status = $("send-status");
  const fleet = enc(current.fleet);
  const [path, payload] = to === "*"
    ? [`/api/fleets/${fleet}/broadcast`, { body, from }]
    : [`/api/fleets/${fleet}/send`, { to, body, from }];
  $("send-button").disabled = true;
  status.textContent = "sending…";
  try {
    const sent = await api(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
    status.textContent = `sent #${sent.ids.join(", #")}`;
    $("send-body").value = "";
    await Promise.all([loadTimeline(), loadAgents()]);
  } catch (err) {
    status.textContent = "error: " + err.message;
  } finally {
    $("send-button").disabled = false;
  }
}

// ---- one pane

async function loadPane() {
  $("pane-title").textContent = `${current.agent} — pane text`;
  $("pane-status").textContent = "";
  try {
    const pane = await api(`/api/fleets/${enc(current.fleet)}/agents/${enc(current.agent)}/pane?lines=200`);
    $("pane-text").textContent = pane.text;
    $("pane-status").textContent = `pane ${pane.pane || "-"}, captured ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    $("pane-text").textContent = "";
    $("pane-status").textContent = "error: " + err.message;
  }
}

// ---- live updates

let versions = null;

function connectLive() {
  const source = new EventSource("/api/live");
  const badgeEl = $("live");
  source.onopen = () => { badgeEl.textContent = "live"; badgeEl.className = "live on"; };
  source.onerror = () => { badgeEl.textContent = "reconnecting"; badgeEl.className = "live off"; };
  source.addEventListener("versions", (event) => {
    const next = JSON.parse(event.data);
    const before = versions;
    versions = next;
    if (!before) return;
    const messages = next.messages !== before.messages || next.deliveries !== before.deliveries;
    const agents = next.agents !== before.agents || messages;
    const tasks = [];
    if (current.view === "fleets" && (agents || messages)) tasks.push(loadFleets());
    if (current.view === "fleet") {
      if (messages) tasks.push(loadTimeline(), loadOperator());
      if (agents) tasks.push(loadAgents());
      if (next.events !== before.events) tasks.push(loadEvents());
    }
    Promise.all(tasks).then(() => showError(null), showError);
  });
}

window.addEventListener("hashchange", render);
document.addEventListener("DOMContentLoaded", () => {
  $("send").addEventListener("submit", send);
  $("operator-read").addEventListener("click", markOperatorRead);
  $("older").addEventListener("click", loadOlder);
  $("thread").addEventListener("change", () => loadTimeline().catch(showError));
  $("pane-refresh").addEventListener("click", loadPane);
  connectLive();
  render();
});
