// The IP Requests console: lists requests from the review API, approves and rejects PENDING
// ones, and refreshes without reloading the page. The admin token lives in sessionStorage
// only (gone when the tab closes) and is sent as a bearer token; nothing else is stored.
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
    $("requests").hidden = !signedIn;
    $("session").hidden = !signedIn;
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
      if (e.status === 401 || e.status === 403) { signOut("Your token was refused: " + e.message); return; }
      $("error").textContent = e.message;
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
    await load();
  });
  $("sign-out").addEventListener("click", () => signOut(""));
  $("refresh").addEventListener("click", load);
  $("status-filter").addEventListener("change", load);

  if (token()) { show(true); load(); } else { show(false); }
})();
