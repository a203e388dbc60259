// The review screen's own script: boxes on the page images, the form's keyboard, words into
// fields, the live check and saving. Document text is only ever set with textContent or as an
// input's value, never as markup.
(() => {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const doc = document.getElementById("doc");
  if (!doc) return;
  const id = doc.dataset.id;
  const reviewable = doc.dataset.reviewable === "yes";
  const message = document.getElementById("message");
  let lastFocused = null;

  // --- boxes ----------------------------------------------------------------------------------
  function place(box) {
    const [x0, y0, x1, y1] = ["x0", "y0", "x1", "y1"].map((k) => parseFloat(box.dataset[k]));
    const pad = 0.002; // a little air around the words
    box.style.left = `${(x0 - pad) * 100}%`;
    box.style.top = `${(y0 - pad) * 100}%`;
    box.style.width = `${(x1 - x0 + 2 * pad) * 100}%`;
    box.style.height = `${(y1 - y0 + 2 * pad) * 100}%`;
  }
  document.querySelectorAll(".box").forEach(place);

  function overlay(page) {
    return document.querySelector(`.page[data-page="${page}"] .overlay`);
  }

  function addBox(b) {
    const layer = overlay(b.page);
    if (!layer) return;
    const el = document.createElement("div");
    el.className = "box";
    el.dataset.field = b.field;
    el.dataset.page = b.page;
    el.dataset.source = "page";
    [el.dataset.x0, el.dataset.y0, el.dataset.x1, el.dataset.y1] = b.box;
    if (b.row !== null && b.row !== undefined) {
      el.dataset.row = b.row;
      el.classList.add(b.field.includes("[") ? "cell" : "row");
    }
    el.title = b.row !== null && b.row !== undefined && !b.field.includes("[") ? `${b.field} row ${b.row + 1}` : b.field;
    place(el);
    layer.appendChild(el);
  }

  function boxFor(name) {
    const exact = document.querySelector(`.box[data-field="${CSS.escape(name)}"]`);
    if (exact) return exact;
    const m = /^([a-z_]+)\[(\d+)\]/.exec(name);
    return m ? document.querySelector(`.box.row[data-field="${m[1]}"][data-row="${m[2]}"]`) : null;
  }

  function highlight(input) {
    document.querySelectorAll(".box.active, .field.active, tr.active").forEach((el) => el.classList.remove("active"));
    const name = input.dataset.name;
    const holder = input.closest(".field, tr");
    if (holder) holder.classList.add("active");
    const box = boxFor(name);
    if (!box) return;
    box.classList.add("active");
    const row = /^([a-z_]+)\[(\d+)\]/.exec(name);
    if (row && box.classList.contains("cell")) {
      const rowBox = document.querySelector(`.box.row[data-field="${row[1]}"][data-row="${row[2]}"]`);
      if (rowBox) rowBox.classList.add("active");
    }
    box.scrollIntoView({ block: "center", inline: "nearest" });
  }

  // --- words: clicking one puts its text into the field last focused ----------------------------
  function addWords(pages) {
    for (const p of pages) {
      const layer = overlay(p.page);
      if (!layer) continue;
      const frag = document.createDocumentFragment();
      for (const [text, x0, y0, x1, y1] of p.words) {
        const w = document.createElement("span");
        w.className = "word";
        w.dataset.text = text;
        Object.assign(w.dataset, { x0, y0, x1, y1 });
        place(w);
        frag.appendChild(w);
      }
      layer.appendChild(frag);
    }
  }

  document.querySelector(".pages").addEventListener("click", (ev) => {
    const word = ev.target.closest(".word");
    if (!word || !lastFocused || lastFocused.readOnly || lastFocused.disabled) return;
    const text = word.dataset.text;
    lastFocused.value = ev.shiftKey && lastFocused.value ? `${lastFocused.value} ${text}` : text;
    lastFocused.dispatchEvent(new Event("input", { bubbles: true }));
    lastFocused.focus();
  });

  const placed = Array.from(document.querySelectorAll(".box")).map((b) => b.dataset.field);
  fetch(`/documents/${id}/words.json?placed=${encodeURIComponent(placed.join(","))}`, { credentials: "same-origin" })
    .then((r) => r.json())
    .then((body) => {
      if (body.unavailable) {
        const note = document.getElementById("pages-note");
        note.textContent = `The pages cannot be read: ${body.unavailable}`;
        note.hidden = false;
      }
      addWords(body.pages || []);
      (body.boxes || []).forEach((b) => {
        if (!document.querySelector(`.box[data-field="${CSS.escape(b.field)}"]${b.row !== null ? `[data-row="${b.row}"]` : ""}`)) addBox(b);
      });
      doc.dataset.words = "ready";
      if (lastFocused) highlight(lastFocused);
    })
    .catch(() => { doc.dataset.words = "failed"; });

  // --- the form -------------------------------------------------------------------------------
  const inputs = () => Array.from(document.querySelectorAll("#fields [data-name]"));
  document.getElementById("fields").addEventListener("focusin", (ev) => {
    if (ev.target.dataset && ev.target.dataset.name) {
      lastFocused = ev.target;
      highlight(ev.target);
    }
  });

  function edits() {
    const changes = {};
    for (const el of inputs()) {
      if (el.value !== el.dataset.original) changes[el.dataset.name] = el.value;
    }
    const accept = Array.from(document.querySelectorAll(".accept-box:checked")).map((b) => b.value);
    return { changes, accept };
  }

  function post(action, body) {
    return fetch(`/documents/${id}/${action}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ version: parseInt(doc.dataset.version, 10), seen: doc.dataset.seen, ...body }),
    }).then(async (r) => ({ status: r.status, body: await r.json().catch(() => ({ error: `HTTP ${r.status}` })) }));
  }

  function say(text, kind) {
    message.hidden = !text;
    message.className = `message ${kind || ""}`;
    message.replaceChildren();
    if (text) message.append(text);
  }

  function item(cls, text) {
    const li = document.createElement("li");
    li.className = cls;
    li.textContent = text;
    return li;
  }

  // The element that shows a field's messages: its own, else its row's or table's.
  function holderOf(field) {
    let f = field;
    while (f) {
      const el = document.querySelector(`[data-for="${CSS.escape(f)}"]`);
      if (el) return el;
      const parent = f.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
      if (parent === f) return null;
      f = parent;
    }
    return null;
  }

  function liveList(holder) {
    if (!holder) return document.getElementById("live-general");
    let list = holder.querySelector(":scope > ul.live");
    if (!list) {
      list = document.createElement("ul");
      list.className = "issues live";
      holder.append(list);
    }
    return list;
  }

  function showCheck(body) {
    document.querySelectorAll("ul.live").forEach((ul) => ul.replaceChildren());
    document.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    // Issues shown since the page was made stay where they are (struck through once resolved);
    // the check's new ones are added beside their fields.
    const live = new Set((body.issues || []).map((i) => `${i.field || ""}|${i.code}`));
    const shown = new Set();
    document.querySelectorAll("li.issue.static").forEach((li) => {
      const key = `${li.dataset.issueField}|${li.dataset.code}`;
      shown.add(key);
      li.classList.toggle("resolved", body.issues !== undefined && !live.has(key));
    });
    for (const i of body.issues || []) {
      if (shown.has(`${i.field || ""}|${i.code}`)) continue;
      liveList(i.field ? holderOf(i.field) : null).append(item(`issue sev-${i.severity}`, `${i.code}: ${i.message}`));
    }
    for (const r of body.rejected || []) {
      const holder = r.field ? holderOf(r.field) : null;
      if (holder) holder.classList.add("invalid");
      liveList(holder).append(item("issue sev-error rejected", `not accepted: ${r.reason}`));
    }
    const approve = document.getElementById("approve");
    if (approve) {
      approve.classList.toggle("blocked", body.approvable === false);
      approve.title = body.approvable === false ? "an error remains: correct it or accept it first" : "Ctrl+Enter";
    }
    const status = document.getElementById("status");
    if (status && body.status) status.dataset.after = body.status;
  }

  let timer = null;
  function scheduleCheck() {
    clearTimeout(timer);
    timer = setTimeout(() => post("check", edits()).then((r) => (r.status === 200 ? showCheck(r.body) : say(r.body.error, "error"))), 300);
  }
  document.getElementById("fields").addEventListener("input", scheduleCheck);
  document.getElementById("fields").addEventListener("change", scheduleCheck);

  function showConflict(body) {
    say("", "");
    message.hidden = false;
    message.className = "message conflict";
    message.append(document.createTextNode(body.error));
    const list = document.createElement("ul");
    for (const c of body.changes || []) {
      const what = c.field ? `${c.field}: ${JSON.stringify(c.old)} → ${JSON.stringify(c.new)}` : "";
      list.append(item("change", `${c.user || "ledgerlens"} ${c.action} ${what} at ${c.at}`.replace(/\s+/g, " ")));
    }
    message.append(list);
    const reload = document.createElement("a");
    reload.href = window.location.href;
    reload.textContent = "Reload to start from their version (your typing is lost)";
    message.append(reload);
  }

  let saving = false;
  function save(approve) {
    if (!reviewable || saving) return;
    saving = true;
    say(approve ? "Approving…" : "Saving…", "busy");
    post("save", { ...edits(), approve }).then((r) => {
      saving = false;
      if (r.status === 200) {
        doc.dataset.saved = r.body.approved ? "approved" : "saved";
        if (r.body.approved && doc.dataset.next) window.location.assign(doc.dataset.next);
        else if (r.body.approved) window.location.assign(doc.dataset.queue);
        else if (r.body.saved) window.location.reload();
        else say("Nothing to save: no field was changed.", "info");
      } else if (r.status === 409) {
        doc.dataset.saved = "conflict";
        showConflict(r.body);
      } else {
        doc.dataset.saved = "refused";
        say(r.body.error || `HTTP ${r.status}`, "error");
        if (r.body.rejected) showCheck({ rejected: r.body.rejected });
      }
    }).catch((e) => { saving = false; say(`Could not reach the review server: ${e}`, "error"); });
  }
  const saveButton = document.getElementById("save");
  if (saveButton) saveButton.addEventListener("click", () => save(false));
  const approveButton = document.getElementById("approve");
  if (approveButton) approveButton.addEventListener("click", () => save(true));

  // A new table row: inputs named after the table's columns, at the next index.
  document.querySelectorAll(".add-row").forEach((button) => button.addEventListener("click", () => {
    const table = document.querySelector(`table[data-table="${CSS.escape(button.dataset.table)}"]`);
    const body = table.tBodies[0];
    const index = body.querySelectorAll("tr[data-row]").length;
    const tr = document.createElement("tr");
    tr.dataset.row = index;
    const num = document.createElement("td");
    num.className = "num";
    num.textContent = index + 1;
    tr.append(num);
    table.querySelectorAll("th[data-column]").forEach((th) => {
      const td = document.createElement("td");
      const input = document.createElement("input");
      input.dataset.name = `${button.dataset.table}[${index}].${th.dataset.column}`;
      input.dataset.original = "";
      td.className = "cell";
      td.dataset.for = input.dataset.name;
      td.append(input);
      tr.append(td);
    });
    body.append(tr);
    tr.querySelector("input").focus();
  }));

  // --- keyboard -------------------------------------------------------------------------------
  function move(step) {
    const all = inputs().filter((el) => !el.disabled);
    if (!all.length) return;
    const at = all.indexOf(document.activeElement);
    const next = all[Math.min(all.length - 1, Math.max(0, at < 0 ? 0 : at + step))];
    next.focus();
    if (next.select) next.select();
  }
  document.addEventListener("keydown", (ev) => {
    const typing = ev.target.matches && ev.target.matches("input, select, textarea");
    if ((ev.altKey && ev.key === "ArrowDown") || (!typing && ev.key === "j")) { ev.preventDefault(); move(1); }
    else if ((ev.altKey && ev.key === "ArrowUp") || (!typing && ev.key === "k")) { ev.preventDefault(); move(-1); }
    else if (ev.ctrlKey && ev.key === "Enter") { ev.preventDefault(); save(true); }
    else if (ev.ctrlKey && (ev.key === "s" || ev.key === "S")) { ev.preventDefault(); save(false); }
    else if ((ev.altKey && (ev.key === "n" || ev.key === "N")) || (!typing && ev.key === "n")) {
      if (doc.dataset.next) { ev.preventDefault(); window.location.assign(doc.dataset.next); }
    }
  });
  doc.dataset.ready = "yes";
})();
