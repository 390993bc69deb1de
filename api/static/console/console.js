// The console. Views, chosen by the URL's fragment (so Back and bookmarks work):
// - #requests: lists requests from the review API, approves and rejects PENDING ones, and
//   refreshes without reloading the page;
// - #blocks/{tenant}: a tenant's Melange blocks with utilization bars;
// - #block/{tenant}/{id}: a heat map of the block's address space, coloured by state;
// - #address/{ip}: the holder timeline of an address (the audit API).
// Everything is read from the JSON API the other clients use (the heat map and utilization
// from Melange's .../ip_blocks/{id}/heatmap). The admin token lives in sessionStorage only (gone when the tab closes) and
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

  // ---- Sizes (BigInt: an IPv6 block's size is no JavaScript number) --------------------

  function parseCidr(cidr) {
    const bits = cidr.includes(":") ? 128 : 32;
    const prefix = Number(cidr.split("/")[1]);
    return { bits, size: 1n << BigInt(bits - prefix) };
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
        // One cell of the heat map is the whole block: its counts are the utilization.
        // Used: allocations and pending request holds.
        const h = (await api("GET", blockPath(tenant, b.id) + "/heatmap?cells=1")).heatmap;
        const used = h.cells.reduce((n, c) => n + BigInt(c.allocated) + BigInt(c.held), 0n);
        return blockRow(tenant, b, used, BigInt(h.size));
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

  // ---- Heat map ------------------------------------------------------------------------

  // The server counts the block's states per cell (GET .../heatmap?cells=N, a power of two):
  // one cell per address up to 1024 addresses; above, one per /24 for IPv4 (at most 1024
  // cells, coarser on a /13 or larger) and 1024 cells for IPv6.
  const MAX_CELLS = 1024n;
  const STATES = ["allocated", "held", "deallocated", "reserved"];

  async function loadBlock(tenant, id) {
    $("block-error").textContent = "";
    $("heatmap").replaceChildren();
    try {
      const block = (await api("GET", blockPath(tenant, id))).ip_block;
      const c = parseCidr(block.cidr);
      let cells = c.size <= MAX_CELLS ? c.size : MAX_CELLS;
      if (c.size > MAX_CELLS && c.bits === 32 && c.size / 256n < MAX_CELLS) cells = c.size / 256n;
      const h = (await api("GET", blockPath(tenant, id) + "/heatmap?cells=" + cells)).heatmap;
      const used = h.cells.reduce((n, x) => n + BigInt(x.allocated) + BigInt(x.held), 0n);
      $("block-title").textContent = block.cidr;
      $("block-summary").textContent = "tenant " + tenant + " · " + used + " of " + h.size + " addresses in use";
      const perAddress = BigInt(h.cell_size) === 1n;
      $("heatmap-scale").textContent = perAddress ? "One cell per address."
        : "One cell per /" + h.cell_prefix + " (" + h.cell_size + " addresses).";
      $("heatmap").classList.toggle("wide", h.cells.length > 256);
      $("heatmap").replaceChildren(...h.cells.map((x) => heatCell(x, h, perAddress)));
    } catch (e) {
      if (!refused(e)) $("block-error").textContent = e.message;
    }
  }

  // A cell's colour is its commonest non-free state (a single address: its state); an
  // aggregate is more opaque the less of it is free, and its tooltip gives the counts.
  function heatCell(x, h, perAddress) {
    const top = STATES.filter((s) => x[s] > 0).sort((a, b) => x[b] - x[a])[0];
    const el = document.createElement("span");
    el.className = perAddress ? "cell" : "cell aggregate";
    el.dataset.state = top || "free";
    el.setAttribute("role", "gridcell");
    if (perAddress) {
      el.dataset.address = x.start;
      el.title = x.start + ": " + el.dataset.state;
      el.addEventListener("click", () => { location.hash = "#address/" + encodeURIComponent(x.start); });
      return el;
    }
    const name = x.start + "/" + h.cell_prefix;
    el.dataset.address = name;
    const size = BigInt(h.cell_size);
    const busy = STATES.reduce((n, s) => n + BigInt(x[s]), 0n);
    if (top) el.style.opacity = String(0.35 + 0.65 * Math.min(1, percent(busy, size) / 100));
    el.title = name + ": " + (STATES.filter((s) => x[s] > 0).map((s) => x[s] + " " + s).join(", ") || "all free");
    return el;
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
