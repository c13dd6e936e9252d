// The review desk page: the queue, one draft at a time, approve / edit / reject. No build step.
"use strict";

const $ = (id) => document.getElementById(id);
// The labels a reviewer may correct, with their values in order (as the API's enums).
const CORRECTABLE = {
  severity: ["low", "medium", "high", "critical"],
  effort: ["trivial", "low", "medium", "high"],
  recovery_potential: ["low", "medium", "high"],
  category: ["delivery", "billing", "product_quality", "service_behaviour", "outage_or_bug",
             "account_access", "plan_or_policy", "safety_or_health", "other"],
};
const state = { items: [], index: -1, draft: null, history: {} };

function el(tag, { dataset = {}, ...props } = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset);
  for (const child of children) node.append(child);
  return node;
}

async function api(path, options = {}) {
  const key = sessionStorage.getItem("apikey") || "";
  const response = await fetch(path, {
    headers: { "content-type": "application/json", ...(key && { authorization: `Bearer ${key}` }) },
    ...options,
  });
  if (response.status === 401) $("apikey").focus();
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = Array.isArray(body.detail)
      ? body.detail.map((d) => `${d.loc.slice(-1)}: ${d.msg}`).join("; ")
      : body.detail || response.statusText;
    throw new Error(detail);
  }
  return body;
}

function age(iso) {
  const hours = (Date.now() - new Date(iso).getTime()) / 36e5;
  if (hours < 1) return `${Math.max(1, Math.round(hours * 60))} min`;
  if (hours < 48) return `${Math.round(hours)} h`;
  return `${Math.round(hours / 24)} d`;
}

function say(text, isError = false) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

async function loadQueue(keepId) {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData($("filters"))) if (value) params.set(key, value);
  params.set("limit", "200");
  const page = await api(`/v1/drafts?${params}`);
  state.items = page.items;
  $("count").textContent = `${page.total} draft${page.total === 1 ? "" : "s"}` +
    (page.total > page.items.length ? ` (showing ${page.items.length})` : "");
  const list = $("items");
  list.replaceChildren(...page.items.map((d, i) => {
    const c = d.classification;
    return el("li", { dataset: { id: d.id }, onclick: () => select(i) },
      el("div", { className: "meta" },
        el("span", { className: `badge sev-${c.severity}`, textContent: c.severity }),
        el("span", { className: "badge", textContent: c.effort }),
        el("span", { className: "badge", textContent: c.route.replace("_", " ") }),
        ...((c.unsure || []).length ? [el("span", { className: "badge unsure", title: `a person should set: ${c.unsure.join(", ")}`, textContent: "unsure" })] : []),
        el("span", { textContent: `${d.language} · ${c.category.replaceAll("_", " ")} · ${age(d.created_at)}` })),
      el("div", { className: "text", textContent: d.complaint }));
  }));
  const keep = state.items.findIndex((d) => d.id === keepId);
  $("empty").hidden = state.items.length > 0;
  $("detail").hidden = state.items.length === 0;
  if (state.items.length) select(keep >= 0 ? keep : Math.min(Math.max(state.index, 0), state.items.length - 1));
}

async function historyOf(customerId) {
  if (!customerId) return [];
  if (!state.history[customerId]) {
    state.history[customerId] = await api(`/v1/customers/${encodeURIComponent(customerId)}/history`);
  }
  return state.history[customerId];
}

async function select(i) {
  state.index = i;
  const d = (state.draft = state.items[i]);
  for (const li of $("items").children) li.classList.toggle("active", li.dataset.id === d.id);
  $("items").children[i]?.scrollIntoView({ block: "nearest" });
  const c = d.classification;
  $("d-title").textContent = `${d.customer_id || "no customer id"} · ${d.language} · ${age(d.created_at)} ago`;
  $("d-status").textContent = d.status.replace("_", " ");
  $("d-complaint").textContent = d.complaint;
  const labels = ["severity", "effort", "recovery_potential", "category", "route"].map((name) =>
    el("div", { className: (c.unsure || []).includes(name) ? "label unsure" : "label" },
      el("span", { className: "muted", textContent: name.replace("_", " ") + sureness(c, name) }),
      CORRECTABLE[name]
        ? el("select", { name: `fix-${name}`, title: "correct it: this team's model learns it",
                         onchange: (event) => correct(name, event.target.value) },
             ...CORRECTABLE[name].map((value) => el("option", {
               value, selected: value === c[name], textContent: value.replaceAll("_", " ") })))
        : el("b", { textContent: String(c[name]).replaceAll("_", " ") }),
      el("ul", {}, ...(c.reasons[name] || []).map((r) =>
        el("li", { textContent: r.history_id ? `${r.detail} [${r.history_id}]` : r.detail })))));
  $("d-labels").replaceChildren(...labels);
  $("d-engine").textContent = `${d.engine} · ${d.model} · ${d.prompt_version}` +
    (d.fallback_reason ? ` · fallback: ${d.fallback_reason}` : "");
  $("d-reply").value = d.reply;
  $("d-checks").replaceChildren(...Object.entries(d.checks).map(([name, r]) =>
    el("li", { className: r.passed ? "pass" : "fail", title: r.detail,
               textContent: `${r.passed ? "✓" : "✗"} ${name.replace("_", " ")}` })));
  $("reason").value = "";
  const options = d.gesture_options || [];
  const current = options.findIndex((o) => d.gesture && o.text === d.gesture.text && o.kind === d.gesture.kind);
  const choices = d.status === "pending_review" && options.length
    ? [el("span", { className: "muted", textContent: " Switch to: " }),
       ...options.map((o, i) => el("button", {
         type: "button", className: "option", disabled: i === current, dataset: { option: String(i) },
         title: o.reason, textContent: `${o.text} (${o.value} ${o.currency})`,
         onclick: () => switchGesture(i) })),
       el("button", { type: "button", className: "option", disabled: !d.gesture,
                      dataset: { option: "none" }, textContent: "no gesture",
                      onclick: () => switchGesture(null) })]
    : [];
  $("d-gesture").replaceChildren(
    d.gesture ? `Gesture: ${d.gesture.text} (${d.gesture.value} ${d.gesture.currency}) — ${d.gesture.reason}.`
              : "No gesture.", ...choices);
  refreshButtons();
  // The history comes last: everything the reviewer can type into is set before this wait,
  // so a reason typed while it loads is not wiped.
  $("d-history").replaceChildren(el("li", { className: "muted", textContent: "loading…" }));
  const history = await historyOf(d.customer_id).catch(() => []);
  if (state.draft !== d) return;  // another draft was chosen meanwhile
  const byId = Object.fromEntries(history.map((h) => [h.id, h]));
  $("d-history").replaceChildren(...(d.history_used.length ? d.history_used.map((id) => {
    const h = byId[id];
    return el("li", { textContent: h ? `${h.at} · ${h.kind} · ${h.text} [${id}]` : `[${id}]` });
  }) : [el("li", { className: "muted", textContent: "none" })]));
}

async function switchGesture(option) {
  const d = state.draft;
  const reviewer = $("reviewer").value.trim();
  if (!reviewer) { say("Write your name in 'You are' first: every change is signed.", true); $("reviewer").focus(); return; }
  try {
    const done = await api(`/v1/drafts/${d.id}/gesture`, { method: "POST", body: JSON.stringify({ reviewer, option }) });
    say(done.gesture ? `gesture switched to ${done.gesture.text} by ${reviewer}` : `gesture removed by ${reviewer}`);
    await loadQueue(d.id);
  } catch (error) {
    say(error.message, true);
  }
}

function sureness(c, name) {
  if ((c.unsure || []).includes(name)) return " · unsure: please set it";
  const value = (c.certainty || {})[name];
  return value === undefined ? "" : ` · ${Math.round(100 * value)} % sure`;
}

async function correct(name, value) {
  const d = state.draft;
  const reviewer = $("reviewer").value.trim();
  if (!reviewer) { say("Write your name in 'You are' first: every correction is signed.", true); $("reviewer").focus(); return; }
  try {
    await api(`/v1/drafts/${d.id}/labels`, { method: "POST", body: JSON.stringify({ reviewer, [name]: value }) });
    say(`${name.replace("_", " ")} set to ${value.replaceAll("_", " ")} by ${reviewer}; this team's model learns it`);
    await loadQueue(d.id);
  } catch (error) {
    say(error.message, true);
  }
}

function refreshButtons() {
  const d = state.draft;
  const pending = d && d.status === "pending_review";
  const changed = d && $("d-reply").value.trim() !== d.reply.trim();
  $("approve").disabled = !pending || changed;
  $("save-edit").disabled = !pending || !changed;
  $("reject").disabled = !pending;
  $("d-reply").readOnly = !pending;
  $("d-words").textContent = `${($("d-reply").value.match(/[\p{L}\p{N}'’-]+/gu) || []).length} words`;
}

async function review(action) {
  const d = state.draft;
  const reviewer = $("reviewer").value.trim();
  if (!reviewer) { say("Write your name in 'You are' first: every decision is signed.", true); $("reviewer").focus(); return; }
  const body = { action, reviewer };
  if (action === "edit") body.text = $("d-reply").value;
  if (action === "reject") {
    body.reason = $("reason").value.trim();
    if (!body.reason) { say("Say why you reject it (it teaches the drafter).", true); $("reason").focus(); return; }
  }
  try {
    const done = await api(`/v1/drafts/${d.id}/review`, { method: "POST", body: JSON.stringify(body) });
    say(`${done.status.replace("_", " ")} by ${reviewer}`);
    await loadQueue(done.id);
  } catch (error) {
    say(error.message, true);
  }
}

$("approve").onclick = () => review("approve");
$("save-edit").onclick = () => review("edit");
$("reject").onclick = () => review("reject");
$("d-reply").addEventListener("input", refreshButtons);
$("filters").addEventListener("change", () => { state.index = 0; loadQueue().catch((e) => say(e.message, true)); });
// The key stays in this tab only (sessionStorage): closing the tab forgets it.
$("apikey").value = sessionStorage.getItem("apikey") || "";
$("apikey").addEventListener("change", () => {
  sessionStorage.setItem("apikey", $("apikey").value.trim());
  state.index = 0;
  loadQueue().then(() => say("")).catch((e) => say(e.message, true));
});
$("reviewer").value = localStorage.getItem("reviewer") || "";
$("reviewer").addEventListener("change", () => localStorage.setItem("reviewer", $("reviewer").value.trim()));

document.addEventListener("keydown", (event) => {
  const typing = ["TEXTAREA", "INPUT", "SELECT"].includes(document.activeElement.tagName);
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && document.activeElement === $("d-reply")) {
    event.preventDefault(); if (!$("save-edit").disabled) review("edit"); return;
  }
  if (event.key === "Escape") { document.activeElement.blur(); return; }
  if (typing || event.ctrlKey || event.metaKey || event.altKey || !state.items.length) return;
  const keys = {
    j: () => select(Math.min(state.index + 1, state.items.length - 1)),
    k: () => select(Math.max(state.index - 1, 0)),
    a: () => !$("approve").disabled && review("approve"),
    e: () => $("d-reply").focus(),
    r: () => ($("reason").value.trim() ? review("reject") : $("reason").focus()),
    "/": () => $("filters").querySelector("select").focus(),
  };
  if (keys[event.key]) { event.preventDefault(); keys[event.key](); }
});

loadQueue().catch((error) => say(error.message, true));
$("reason").addEventListener("keydown", (event) => {
  if (event.key === "Enter") { event.preventDefault(); review("reject"); }
});
