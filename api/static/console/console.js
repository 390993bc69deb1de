// The console. Views, chosen by the URL's fragment (so Back and bookmarks work):
// - #requests: lists requests from the review API, approves and rejects PENDING ones, and
//   refreshes without reloading the page;
// - #blocks/{tenant}: a tenant's Melange blocks with utilization bars;
// - #block/{tenant}/{id}: a heat map of the block's address space, coloured by state;
// - #address/{ip}: the holder timeline of an address (the audit API).
// Everything is read from the JSON API the other clients use: no endpoint exists for the
// console alone. The admin token lives in sessionStorage only (gone when the tab closes) and
// is sent as a bearer token; nothing else is stored.
(function () {
  "use strict";
  const TOKEN_KEY = "ipledger-admin-token";
  const $ = (id) => document.getElementById(id);

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  async function api(method, path, body) {
    const headers = { "Authorization": "Bearer " + token(), "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await resp.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    if (!resp.ok) {
      const fault = json && Object.values(json)[0];
      const err = new Error((fault && fault.detail) || ("HTTP " + resp.status));
      err.status = resp.status;
      throw err;
    }
    return json;
  }

  function show(signedIn) {
    $("sign-in").hidden = signedIn;
    $("session").hidden = !signedIn;
    $("views").hidden = !signedIn;
    if (!signedIn) document.querySelectorAll(".view").forEach((v) => { v.hidden = true; });
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text == null || text === "" ? "—" : String(text);
    if (cls) td.className = cls;
    return td;
  }

  function actionButton(request, kind) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "action " + kind;
    b.textContent = kind === "approve" ? "✓" : "✗";
    b.title = kind === "approve" ? "Approve" : "Reject";
    b.setAttribute("aria-label", b.title + " " + request.ip);
    b.dataset.testid = kind + "-" + request.id;
    b.addEventListener("click", () => decide(request, kind, b));
    return b;
  }

  function row(request) {
    const tr = document.createElement("tr");
    tr.dataset.requestId = request.id;
    tr.appendChild(cell(request.ip, "ip"));
    tr.appendChild(cell(request.assignType));
    tr.appendChild(cell(request.assignedTo));
    tr.appendChild(cell(request.description));
    const status = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = "badge " + request.status;
    badge.textContent = request.status;
    badge.dataset.testid = "status-" + request.id;
    status.appendChild(badge);
    tr.appendChild(status);
    tr.appendChild(cell(request.requestedAt ? new Date(request.requestedAt + (request.requestedAt.endsWith("Z") ? "" : "Z")).toLocaleString() : ""));
    const actions = document.createElement("td");
    if (request.status === "PENDING") {
      actions.appendChild(actionButton(request, "approve"));
      actions.appendChild(actionButton(request, "reject"));
    }
    tr.appendChild(actions);
    return tr;
  }

  async function load() {
    $("error").textContent = "";
    const status = $("status-filter").value;
    const query = "?limit=1000" + (status ? "&status=" + encodeURIComponent(status) : "");
    try {
      const data = await api("GET", "/v1/ipam/requests" + query);
      const rows = $("rows");
      rows.replaceChildren(...(data.requests || []).map(row));
      $("empty").hidden = (data.requests || []).length > 0;
      $("updated").textContent = "Updated " + new Date().toLocaleTimeString();
    } catch (e) {
      if (!refused(e)) $("error").textContent = e.message;
    }
  }

  async function decide(request, kind, button) {
    let body;
    if (kind === "reject") {
      const reason = window.prompt("Reason for rejecting " + request.ip + " (optional)", "");
      if (reason === null) return;
      body = reason ? { reason } : {};
    }
    button.disabled = true;
    try {
      await api("POST", "/v1/ipam/requests/" + encodeURIComponent(request.id) + "/" + kind, body);
    } catch (e) {
      $("error").textContent = e.message;
    }
    await load();
  }

  // ---- Navigation -------------------------------------------------------------------------

  const VIEWS = { requests: "IP Requests", blocks: "Blocks", block: "Block", address: "Address history" };

  function openView(view) {
    document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== view; });
    document.querySelectorAll(".views a").forEach((a) => {
      a.classList.toggle("current", a.id === "nav-" + view || (view === "block" && a.id === "nav-blocks"));
    });
    $("crumb").textContent = VIEWS[view];
  }

  async function route() {
    const parts = location.hash.replace(/^#/, "").split("/").map(decodeURIComponent);
    const view = VIEWS[parts[0]] ? parts[0] : "requests";
    openView(view);
    if (view === "requests") return load();
    if (view === "blocks") { $("tenant").value = parts[1] || ""; if (parts[1]) return loadBlocks(parts[1]); return; }
    if (view === "block") return loadBlock(parts[1] || "", parts[2] || "");
    if (view === "address") { $("address-input").value = parts[1] || ""; if (parts[1]) return loadTimeline(parts[1]); }
  }

  function refused(e) {
    if (e.status === 401 || e.status === 403) { signOut("Your token was refused: " + e.message); return true; }
    return false;
  }

  // Every item of a paged collection: follows the `{key}_links` next marker to the end.
  async function every(path, key) {
    const items = [];
    let marker = null;
    for (;;) {
      const sep = path.includes("?") ? "&" : "?";
      const data = await api("GET", path + sep + "limit=1000" + (marker ? "&marker=" + encodeURIComponent(marker) : ""));
      items.push(...(data[key] || []));
      const next = (data[key + "_links"] || []).find((l) => l.rel === "next");
      if (!next) return items;
      marker = new URL(next.href, location.href).searchParams.get("marker");
      if (!marker) return items;
    }
  }

  // ---- Address arithmetic (BigInt: the same code for IPv4 and IPv6) ----------------------

  function parseIp(text) {
    if (text.includes(".") && !text.includes(":")) {
      const o = text.split(".").map(Number);
      return { bits: 32, n: o.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n) };
    }
    let [head, tail] = text.split("::");
    const h = head ? head.split(":") : [];
    const t = tail !== undefined && tail ? tail.split(":") : [];
    const groups = tail === undefined ? h : h.concat(Array(8 - h.length - t.length).fill("0"), t);
    return { bits: 128, n: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
  }

  function formatIp(bits, n) {
    if (bits === 32) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join(".");
    const groups = [];
    for (let s = 112n; s >= 0n; s -= 16n) groups.push(((n >> s) & 0xffffn).toString(16));
    return groups.join(":");
  }

  function parseCidr(cidr) {
    const [addr, len] = cidr.split("/");
    const ip = parseIp(addr);
    const prefix = Number(len);
    return { bits: ip.bits, base: ip.n, prefix, size: 1n << BigInt(ip.bits - prefix) };
  }

  function percent(used, size) { return size === 0n ? 0 : Number((used * 10000n) / size) / 100; }

  // ---- Blocks ----------------------------------------------------------------------------

  function blockPath(tenant, id) {
    return "/v0.1/ipam/tenants/" + encodeURIComponent(tenant) + "/ip_blocks" + (id ? "/" + encodeURIComponent(id) : "");
  }

  async function loadBlocks(tenant) {
    $("blocks-error").textContent = "";
    try {
      const blocks = await every(blockPath(tenant), "ip_blocks");
      const rows = await Promise.all(blocks.map(async (b) => {
        // Used: every address held in the block (allocations and request holds), not the
        // soft-deallocated ones, which are free to allocate again.
        const addresses = await every(blockPath(tenant, b.id) + "/ip_addresses", "ip_addresses");
        const used = BigInt(addresses.filter((a) => !a.deallocated_at).length);
        return blockRow(tenant, b, used, parseCidr(b.cidr).size);
      }));
      $("block-rows").replaceChildren(...rows);
      $("blocks-empty").hidden = rows.length > 0;
    } catch (e) {
      if (!refused(e)) $("blocks-error").textContent = e.message;
    }
  }

  function blockRow(tenant, b, used, size) {
    const tr = document.createElement("tr");
    tr.dataset.blockId = b.id;
    const name = document.createElement("td");
    name.className = "ip";
    const link = document.createElement("a");
    link.href = "#block/" + encodeURIComponent(tenant) + "/" + encodeURIComponent(b.id);
    link.textContent = b.cidr;
    link.dataset.testid = "block-" + b.id;
    name.appendChild(link);
    tr.appendChild(name);
    tr.appendChild(cell(b.type));
    tr.appendChild(cell(b.network_id));
    tr.appendChild(cell(b.gateway, "ip"));
    const util = document.createElement("td");
    const bar = document.createElement("span");
    bar.className = "bar";
    const fill = document.createElement("span");
    const pct = percent(used, size);
    fill.style.width = Math.min(100, pct) + "%";
    bar.appendChild(fill);
    bar.setAttribute("role", "meter");
    bar.setAttribute("aria-valuenow", String(pct));
    const text = document.createElement("span");
    text.dataset.testid = "utilization-" + b.id;
    text.textContent = used + " / " + size + " (" + pct + "%)";
    util.append(bar, text);
    tr.appendChild(util);
    return tr;
  }

  // ---- Heat map --------------------------------------------------------------------------

  const MAX_CELLS = 1024n;
  const STATES = ["allocated", "held", "deallocated", "reserved"];

  async function loadBlock(tenant, id) {
    $("block-error").textContent = "";
    $("heatmap").replaceChildren();
    try {
      const block = (await api("GET", blockPath(tenant, id))).ip_block;
      const addresses = await every(blockPath(tenant, id) + "/ip_addresses", "ip_addresses");
      // A pending request's hold is listed in the block under the request's id.
      const pending = await every("/v1/ipam/requests?status=PENDING", "requests");
      const holds = new Set(pending.filter((r) => r.block_id === block.id).map((r) => r.id));
      const c = parseCidr(block.cidr);
      const state = new Map();
      const reserve = (text) => { if (text) state.set(parseIp(text).n, "reserved"); };
      // IPv4 blocks lose their network and broadcast addresses (not /31 and /32), and every
      // block its gateway; the server refuses to allocate them.
      if (c.bits === 32 && c.prefix < 31) { state.set(c.base, "reserved"); reserve(block.broadcast); }
      reserve(block.gateway);
      for (const a of addresses) {
        state.set(parseIp(a.address).n, holds.has(a.id) ? "held" : a.deallocated_at ? "deallocated" : "allocated");
      }
      $("block-title").textContent = block.cidr;
      const used = addresses.filter((a) => !a.deallocated_at).length;
      $("block-summary").textContent = "tenant " + tenant + " · " + used + " of " + c.size + " addresses held";
      if (c.size <= MAX_CELLS) heatmapPerAddress(c, state); else heatmapAggregated(c, state);
    } catch (e) {
      if (!refused(e)) $("block-error").textContent = e.message;
    }
  }

  function heatmapPerAddress(c, state) {
    $("heatmap-scale").textContent = "One cell per address.";
    $("heatmap").classList.toggle("wide", c.size > 256n);
    const cells = [];
    for (let i = 0n; i < c.size; i++) {
      const n = c.base + i;
      const address = formatIp(c.bits, n);
      const el = document.createElement("span");
      el.className = "cell";
      el.dataset.state = state.get(n) || "free";
      el.dataset.address = address;
      el.title = address + ": " + el.dataset.state;
      el.setAttribute("role", "gridcell");
      el.addEventListener("click", () => { location.hash = "#address/" + encodeURIComponent(address); });
      cells.push(el);
    }
    $("heatmap").replaceChildren(...cells);
  }

  // Large blocks: one cell per /24 (IPv4) or per 1/1024th of the block, counting the states
  // of the addresses listed in it; the colour is the commonest non-free state, its strength
  // the share of the cell not free.
  function heatmapAggregated(c, state) {
    const cellPrefix = c.bits === 32 ? Math.min(24, c.prefix + 10) : c.prefix + 10;
    const shift = BigInt(c.bits - cellPrefix);
    const cellSize = 1n << shift;
    const count = Number(c.size >> shift);
    const counts = Array.from({ length: count }, () => ({}));
    for (const [n, s] of state) {
      const k = counts[Number((n - c.base) >> shift)];
      k[s] = (k[s] || 0) + 1;
    }
    $("heatmap-scale").textContent = "One cell per /" + cellPrefix + " (" + cellSize + " addresses).";
    $("heatmap").classList.toggle("wide", count > 256);
    const cells = counts.map((k, i) => {
      const start = formatIp(c.bits, c.base + (BigInt(i) << shift));
      const busy = STATES.reduce((sum, s) => sum + (k[s] || 0), 0);
      const top = STATES.filter((s) => k[s]).sort((a, b) => k[b] - k[a])[0];
      const el = document.createElement("span");
      el.className = "cell aggregate";
      el.dataset.state = top || "free";
      el.dataset.address = start + "/" + cellPrefix;
      el.dataset.busy = String(busy);
      if (top) el.style.opacity = String(0.35 + 0.65 * Math.min(1, busy / Number(cellSize)));
      el.title = start + "/" + cellPrefix + ": " + (STATES.filter((s) => k[s]).map((s) => k[s] + " " + s).join(", ") || "all free");
      el.setAttribute("role", "gridcell");
      return el;
    });
    $("heatmap").replaceChildren(...cells);
  }

  // ---- Holder timeline -------------------------------------------------------------------

  function moment(m) { return m ? m.time + " (" + m.actor + ")" : ""; }

  async function loadTimeline(address) {
    $("address-error").textContent = "";
    $("holding-rows").replaceChildren();
    try {
      const data = await api("GET", "/v1/history/addresses/" + encodeURIComponent(address));
      const rows = (data.holdings || []).map((h) => {
        const tr = document.createElement("tr");
        tr.className = "holding";
        tr.appendChild(cell(h.tenant_id));
        tr.appendChild(cell(h.block_cidr, "ip"));
        tr.appendChild(cell(h.via));
        tr.appendChild(cell(JSON.stringify(h.holder), "holder"));
        tr.appendChild(cell(moment(h.from)));
        tr.appendChild(cell(h.to ? moment(h.to) : "now"));
        tr.appendChild(cell(h.ended_because));
        return tr;
      });
      $("holding-rows").replaceChildren(...rows);
      $("address-empty").hidden = rows.length > 0;
    } catch (e) {
      if (!refused(e)) $("address-error").textContent = e.message;
    }
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    show(false);
    $("sign-in-error").textContent = message || "";
  }

  $("sign-in-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    show(true);
    await route();
  });
  $("sign-out").addEventListener("click", () => signOut(""));
  $("refresh").addEventListener("click", load);
  $("status-filter").addEventListener("change", load);

  $("tenant-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = "#blocks/" + encodeURIComponent($("tenant").value.trim());
  });
  $("address-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = "#address/" + encodeURIComponent($("address-input").value.trim());
  });
  window.addEventListener("hashchange", () => { if (token()) route(); });

  if (token()) { show(true); route(); } else { show(false); }
})();
