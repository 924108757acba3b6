// nullsmb Server Manager dashboard: no build step, no dependencies, works offline.
// Data: GET /api/servers, then for the selected server an EventSource on .../events (a snapshot
// at once, on every change and at least once a second); details, close and block via fetch.
"use strict";

(() => {
  const TOKEN_KEY = "nullsmb.admin.token";
  const $ = (id) => document.getElementById(id);
  const state = {
    token: null,
    servers: [],
    current: null,       // {name, local, base}
    source: null,        // EventSource
    audit: null,         // EventSource of the audit stream
    snapshot: null,
    selected: null,      // session id shown in the detail panel
    rows: new Map(),     // session id -> <tr>
    detailTimer: null,
    closing: null,       // the session row the confirmation dialog is about
  };

  // -- the token: ?token= once (then dropped from the URL), else asked for, kept per tab ---------
  function takeTokenFromUrl() {
    const url = new URL(window.location.href);
    const given = url.searchParams.get("token");
    if (given) {
      sessionStorage.setItem(TOKEN_KEY, given);
      url.searchParams.delete("token");
      history.replaceState(null, "", url.pathname + (url.search || "") + url.hash);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function askForToken(message) {
    stopStreams();
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $("app").hidden = true;
    $("forget-token").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    setLive("not connected", "bad");
    $("token-input").focus();
  }

  class Unauthorized extends Error {}

  async function api(path, options = {}) {
    const headers = Object.assign({ Authorization: "Bearer " + state.token }, options.headers || {});
    const response = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
    if (response.status === 401) throw new Unauthorized("the server refused the token");
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const message = body && body.error ? body.error : "HTTP " + response.status;
      throw new Error(message);
    }
    return body;
  }

  function handleError(error) {
    if (error instanceof Unauthorized) askForToken("That token was refused. Check the token file.");
    else announce("Error: " + error.message);
  }

  // -- little helpers ----------------------------------------------------------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const s = Math.floor(seconds);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  function shortId(id) {
    // 0x0000040000000001 -> 0x400000001 (the API takes either)
    return "0x" + (id.replace(/^0x0*/, "") || "0");
  }

  function setLive(text, kind) {
    const live = $("live");
    live.textContent = text;
    live.className = "live " + (kind || "");
  }

  function announce(text) {
    const node = $("announce");
    node.textContent = "";
    window.setTimeout(() => { node.textContent = text; }, 50);
  }

  function badges(row) {
    const out = [];
    if (row.anonymous) out.push(el("span", { class: "badge anonymous", text: "ANONYMOUS" }));
    if (row.guest) out.push(el("span", { class: "badge guest", text: "GUEST" }));
    if (row.admin) out.push(el("span", { class: "badge admin", text: "ADMIN" }));
    return out;
  }

  function clientText(row) {
    const address = row.client_ip.includes(":") ? "[" + row.client_ip + "]" : row.client_ip;
    return address + ":" + row.client_port + (row.workstation ? " (" + row.workstation + ")" : "");
  }

  function securityText(row) {
    const parts = [];
    if (row.encryption) parts.push("encrypted");
    if (row.signing) parts.push("signing required");
    return parts.length ? parts.join(", ") : "none";
  }

  // -- servers -------------------------------------------------------------------------------------
  async function loadServers() {
    const data = await api("/api/servers");
    state.servers = data.servers;
    const list = $("server-list");
    list.replaceChildren();
    for (const server of data.servers) {
      const base = server.local ? "/api" : "/api/servers/" + encodeURIComponent(server.name);
      const counts = server.server ? countsText(server.server) : (server.error || "unreachable");
      const button = el("button", {
        type: "button", "data-name": server.name,
        "aria-current": state.current && state.current.name === server.name ? "true" : "false",
        disabled: !server.reachable,
        onclick: () => selectServer({ name: server.name, local: server.local, base }),
      }, server.name + (server.local ? " (this server)" : ""),
      el("span", { class: "state", text: counts }));
      list.append(el("li", {}, button));
    }
    if (!state.current && data.servers.length) {
      const first = data.servers[0];
      selectServer({ name: first.name, local: first.local, base: "/api" });
    }
  }

  function countsText(info) {
    return info.sessions + (info.sessions === 1 ? " session, " : " sessions, ") +
      info.anonymous_sessions + " anonymous";
  }

  function stopStreams() {
    if (state.source) { state.source.close(); state.source = null; }
    if (state.audit) { state.audit.close(); state.audit = null; }
  }

  function selectServer(server) {
    stopStreams();
    state.current = server;
    state.snapshot = null;
    state.rows.clear();
    $("sessions-body").replaceChildren();
    hideDetail();
    for (const b of document.querySelectorAll("#server-list button")) {
      b.setAttribute("aria-current", b.dataset.name === server.name ? "true" : "false");
    }
    const token = encodeURIComponent(state.token);
    const source = new EventSource(server.base + "/events?access_token=" + token);
    state.source = source;
    setLive("connecting to " + server.name + "…");
    source.addEventListener("snapshot", (event) => {
      setLive("live: " + server.name, "ok");
      try { render(JSON.parse(event.data)); } catch (e) { console.error(e); }
    });
    source.onerror = () => {
      setLive("reconnecting to " + server.name + "…", "bad");
      // EventSource does not say why: ask the API, which does (a refused token → sign in again)
      api(server.base + "/server").catch(handleError);
    };
    startAudit(server);
  }

  // -- the sessions table --------------------------------------------------------------------------
  function visibleRows(snapshot) {
    const onlyAnonymous = $("only-anonymous").checked;
    const needle = $("search").value.trim().toLowerCase();
    return snapshot.sessions.filter((row) => {
      if (onlyAnonymous && !row.anonymous) return false;
      if (!needle) return true;
      return [row.id, row.user, row.client_ip, row.workstation, row.account]
        .some((v) => v && String(v).toLowerCase().includes(needle));
    });
  }

  function makeRow(row) {
    const tr = el("tr", { "data-id": row.id });
    const idButton = el("button", {
      type: "button", class: "link", onclick: () => showDetail(row.id, true),
      "aria-label": "Details of session " + shortId(row.id),
    });
    const closeButton = el("button", {
      type: "button", class: "danger", onclick: () => confirmClose(state.snapshotRows.get(row.id) || row),
      "aria-label": "Close session " + shortId(row.id) + "…",
    }, "Close…");
    tr.append(el("td", {}, idButton), el("td"), el("td"), el("td"), el("td"),
              el("td", { class: "num" }), el("td", { class: "num" }), el("td", { class: "num" }),
              el("td", { class: "num" }), el("td", {}, closeButton));
    return tr;
  }

  function setText(cell, text) {
    if (cell.textContent !== text) cell.textContent = text;
  }

  function fillRow(tr, row) {
    const cells = tr.children;
    setText(cells[0].firstChild, shortId(row.id));
    const userKey = row.user + "|" + row.anonymous + row.guest + row.admin + row.account;
    if (tr.dataset.user !== userKey) {
      tr.dataset.user = userKey;
      cells[1].replaceChildren(row.user, ...badges(row));
      if (row.account) cells[1].append(el("span", { class: "muted", text: " as " + row.account }));
    }
    tr.classList.toggle("anonymous", row.anonymous);
    tr.classList.toggle("guest", row.guest);
    tr.classList.toggle("selected", row.id === state.selected);
    setText(cells[2], clientText(row));
    setText(cells[3], row.dialect || "—");
    setText(cells[4], securityText(row));
    setText(cells[5], String(row.trees));
    setText(cells[6], String(row.opens + row.pipes));
    setText(cells[7], duration(row.connected_s));
    setText(cells[8], duration(row.idle_s));
  }

  function renderTable() {
    const snapshot = state.snapshot;
    if (!snapshot) return;
    const body = $("sessions-body");
    const rows = visibleRows(snapshot);
    const keep = new Set(rows.map((r) => r.id));
    for (const [id, tr] of state.rows) {
      if (!keep.has(id)) { tr.remove(); state.rows.delete(id); }
    }
    let previous = null;
    for (const row of rows) {
      let tr = state.rows.get(row.id);
      if (!tr) { tr = makeRow(row); state.rows.set(row.id, tr); }
      fillRow(tr, row);
      const wanted = previous ? previous.nextSibling : body.firstChild;
      if (wanted !== tr) body.insertBefore(tr, wanted);  // only moves rows that are out of place
      previous = tr;
    }
    $("no-sessions").hidden = rows.length > 0;
    $("no-sessions").textContent = snapshot.sessions.length ? "No session matches the filter." : "No sessions.";
  }

  function renderSummary(snapshot) {
    const s = snapshot.server;
    for (const b of document.querySelectorAll("#server-list button")) {
      if (state.current && b.dataset.name === state.current.name) {
        const span = b.querySelector(".state");
        if (span && span.textContent !== countsText(s)) span.textContent = countsText(s);
      }
    }
    $("server-name").textContent = s.name;
    $("server-meta").textContent = "nullsmb " + s.version + " · " + s.listen.join(", ") +
      " · up " + duration(s.uptime_s);
    const items = [
      [s.sessions, "sessions"], [s.anonymous_sessions, "anonymous"], [s.guest_sessions, "guest"],
      [s.user_sessions, "users"], [s.connections, "connections"], [s.blocks, "blocks"],
    ];
    $("summary").replaceChildren(...items.map(([n, label]) => el("li", {}, el("b", { text: String(n) }), label)));
  }

  const RISKY = {
    RestrictNullSessAccess: (v) => v === 0,
    RestrictAnonymous: (v) => v === 0,
    RestrictAnonymousSAM: (v) => v === 0,
    EveryoneIncludesAnonymous: (v) => v === 1,
    LSAAnonymousNameLookup: (v) => v === 1,
    TurnOffAnonymousBlock: (v) => v === 1,
  };

  function renderPolicy(policy) {
    const key = JSON.stringify(policy);
    if ($("policy").dataset.key === key) return;
    $("policy").dataset.key = key;
    const parts = [];
    for (const [name, value] of Object.entries(policy)) {
      const shown = value === null ? "(not set)" : Array.isArray(value) ? (value.length ? value.join(", ") : "(none)") : String(value);
      const risky = RISKY[name] && RISKY[name](value);
      parts.push(el("dt", { text: name }),
                 el("dd", { class: risky ? "risky" : null, title: risky ? "more open than the Windows default" : null },
                    shown, risky ? el("span", { class: "visually-hidden", text: " (more open than the default)" }) : null));
    }
    $("policy").replaceChildren(...parts);
  }

  function renderBlocks(blocks) {
    const list = $("blocks");
    if (!blocks.length) {
      list.replaceChildren(el("li", { class: "empty", text: "No blocks." }));
      return;
    }
    list.replaceChildren(...blocks.map((b) => el("li", {},
      (b.kind === "user" ? b.name : b.kind.toUpperCase()) + " from " + b.client_ip + " — " +
      duration(b.remaining_s) + " left ",
      el("button", { type: "button", class: "quiet", "aria-label": "Lift the block on " + b.id,
                     onclick: () => liftBlock(b.id) }, "Lift"))));
  }

  function render(snapshot) {
    state.snapshot = snapshot;
    state.snapshotRows = new Map(snapshot.sessions.map((r) => [r.id, r]));
    renderSummary(snapshot);
    renderTable();
    renderPolicy(snapshot.policy);
    renderBlocks(snapshot.blocks);
    if (state.selected) {
      if (!state.snapshotRows.has(state.selected)) {
        $("detail-heading").textContent = "Session " + shortId(state.selected) + " (gone)";
        $("detail-close-session").disabled = true;
      } else {
        scheduleDetail();
      }
    }
  }

  // -- what a session holds open -------------------------------------------------------------------
  function hideDetail() {
    state.selected = null;
    $("detail").hidden = true;
    for (const tr of state.rows.values()) tr.classList.remove("selected");
  }

  function scheduleDetail() {
    if (state.detailTimer) return;
    state.detailTimer = window.setTimeout(() => {
      state.detailTimer = null;
      if (state.selected) showDetail(state.selected, false);
    }, 900);
  }

  async function showDetail(id, focus) {
    state.selected = id;
    for (const [rid, tr] of state.rows) tr.classList.toggle("selected", rid === id);
    let d;
    try {
      d = await api(state.current.base + "/sessions/" + encodeURIComponent(id));
    } catch (e) {
      handleError(e);
      return;
    }
    if (state.selected !== id) return;
    $("detail").hidden = false;
    $("detail-close-session").disabled = false;
    $("detail-heading").replaceChildren("Session " + shortId(d.id) + " — " + d.user, ...badges(d));
    const facts = [
      ["Kind", d.kind || "authenticating"], ["Client", clientText(d)], ["Dialect", d.dialect || "—"],
      ["Security", securityText(d)], ["Connected", duration(d.connected_s)], ["Idle", duration(d.idle_s)],
      ["Requests", d.requests], ["Denied", d.denials], ["Read", d.bytes_read + " bytes"],
      ["Written", d.bytes_written + " bytes"],
    ];
    if (d.account) facts.splice(1, 0, ["Logged on as", d.account]);
    $("detail-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]));
    const list = (node, items, text) => node.replaceChildren(...(items.length
      ? items.map((i) => el("li", { text: text(i) }))
      : [el("li", { class: "empty", text: "none" })]));
    list($("detail-trees"), d.tree_connects, (t) => "\\\\" + (state.snapshot ? state.snapshot.server.name : "") + "\\" + t.share + " (" + t.right + ")");
    list($("detail-files"), d.files, (f) => f.share + ": " + (f.path || "\\") + (f.directory ? " (directory)" : ""));
    list($("detail-pipes"), d.named_pipes, (p) => "\\PIPE\\" + p.pipe);
    if (focus) $("detail-heading").focus();
  }

  // -- close and block -------------------------------------------------------------------------------
  function confirmClose(row) {
    state.closing = row;
    $("confirm-heading").textContent = "Close session " + shortId(row.id) + "?";
    $("confirm-text").textContent = row.user + " from " + clientText(row) +
      ". The client's connection is dropped (with every session on it) and its open files close.";
    $("block-select").value = "";
    $("confirm").returnValue = "";
    $("confirm").showModal();
    $("confirm-cancel").focus();
  }

  async function closeConfirmed() {
    const row = state.closing;
    state.closing = null;
    if (!row) return;
    const block = $("block-select").value;
    const query = block ? "?block=" + encodeURIComponent(block) : "";
    try {
      const result = await api(state.current.base + "/sessions/" + encodeURIComponent(row.id) + query,
                               { method: "DELETE" });
      announce("Closed " + result.closed.map(shortId).join(", ") +
               (result.block ? "; blocked " + result.block.id + " for " + duration(result.block.remaining_s) : ""));
      if (state.selected === row.id) hideDetail();
      $("sessions-heading").focus();
    } catch (e) {
      handleError(e);
    }
  }

  async function liftBlock(id) {
    if (!window.confirm("Lift the block " + id + "?")) return;
    try {
      await api(state.current.base + "/blocks/" + encodeURIComponent(id), { method: "DELETE" });
      announce("Block " + id + " lifted");
    } catch (e) {
      handleError(e);
    }
  }

  // -- the audit tail -------------------------------------------------------------------------------
  async function startAudit(server) {
    const list = $("audit");
    const note = $("audit-note");
    list.replaceChildren();
    note.textContent = "";
    try {
      const recent = await api(server.base + "/audit?limit=30");
      for (const e of recent.events) addAudit(e);
    } catch (e) {
      if (e instanceof Unauthorized) return handleError(e);
      note.textContent = "Audit log: " + e.message + ".";
      return;
    }
    if (state.current !== server) return;
    const source = new EventSource(server.base + "/audit/stream?access_token=" + encodeURIComponent(state.token));
    state.audit = source;
    source.addEventListener("audit", (event) => addAudit(JSON.parse(event.data)));
  }

  function addAudit(e) {
    const list = $("audit");
    const who = e.anonymous ? "ANONYMOUS LOGON" : (e.user ? (e.domain ? e.domain + "\\" : "") + e.user : "");
    const what = e.share || e.target || e.operation || e.setting || e.reason || e.failure_reason || "";
    const time = (e.time || "").replace("T", " ").replace(/\.\d+/, "").replace("Z", "");
    list.append(el("li", { class: e.outcome === "failure" ? "failure" : null },
      [time, e.event_id, e.event, who, e.client_ip || "", what, e.status && e.status !== "STATUS_SUCCESS" ? e.status : ""]
        .filter((x) => x !== "" && x !== undefined).join("  ")));
    while (list.children.length > 200) list.firstChild.remove();
    list.scrollTop = list.scrollHeight;
  }

  // -- start -------------------------------------------------------------------------------------------
  async function start() {
    $("login").hidden = true;
    $("app").hidden = false;
    $("forget-token").hidden = false;
    try {
      await loadServers();
    } catch (e) {
      if (e instanceof Unauthorized) askForToken("That token was refused. Check the token file.");
      else setLive("cannot reach the server: " + e.message, "bad");
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = $("token-input").value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      state.token = token;
      $("token-input").value = "";
      start();
    });
    $("forget-token").addEventListener("click", () => askForToken(""));
    $("only-anonymous").addEventListener("change", renderTable);
    $("search").addEventListener("input", renderTable);
    $("detail-hide").addEventListener("click", () => { hideDetail(); $("sessions-heading").focus(); });
    $("detail-close-session").addEventListener("click", () => {
      const row = state.snapshotRows && state.snapshotRows.get(state.selected);
      if (row) confirmClose(row);
    });
    $("confirm").addEventListener("close", () => {
      if ($("confirm").returnValue === "ok") closeConfirmed();
      else state.closing = null;
    });
    window.setInterval(() => { if (state.token && !$("app").hidden) loadServers().catch(() => {}); }, 15000);
    state.token = takeTokenFromUrl();
    if (state.token) start();
    else askForToken("");
  });
})();
