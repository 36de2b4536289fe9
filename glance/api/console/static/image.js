// One image: every field and property, tags, members, stores and copies, import tasks;
// edit (json-patch), deactivate / reactivate, download, delete.

import { consoleApi, session, v2 } from "./api.js";
import { errorBox, formatDate, formatSize, h, pointer, statusBadge } from "./util.js";

// Keys that are fields of every image, not extra properties.
const BASE = new Set(["id", "name", "status", "visibility", "protected", "os_hidden", "checksum",
  "os_hash_algo", "os_hash_value", "owner", "size", "virtual_size", "container_format",
  "disk_format", "created_at", "updated_at", "tags", "min_ram", "min_disk", "self", "file",
  "schema", "stores", "locations", "direct_url"]);
const BUSY = new Set(["saving", "importing", "uploading"]);
const IMPORTING = "os_glance_importing_to_stores";
const FAILED = "os_glance_failed_import";
const names = (value) => (value || "").split(",").filter(Boolean);
const serverOwned = (key) => key.startsWith("os_glance");

export function imageView(root, route, app) {
  const id = route.id;
  let image = null, tasks = [], members = null, stores = [];
  let editing = false, alive = true, timer = null, busyAction = false;
  const signatures = {};

  const head = h("div", { class: "image-head" });
  const body = h("div", { class: "image-body" });
  const sections = {
    details: h("section", { class: "card", "aria-labelledby": "s-details" }),
    stores: h("section", { class: "card", "aria-labelledby": "s-stores" }),
    tasks: h("section", { class: "card", "aria-labelledby": "s-tasks" }),
    members: h("section", { class: "card", "aria-labelledby": "s-members" }),
  };
  body.append(h("div", { class: "col" }, sections.details),
              h("div", { class: "col" }, sections.stores, sections.tasks, sections.members));
  root.append(h("a", { class: "back", href: "#/" }, "← Images"),
              h("h1", { class: "image-title" }, "Image"), head, body);
  const title = root.querySelector("h1");
  body.hidden = true;
  head.append(h("p", { class: "loading" }, "Loading…"));

  async function load() {
    clearTimeout(timer);
    try {
      const [img, t, s] = await Promise.all([
        v2.get(id), v2.tasks(id).catch(() => ({ tasks: [] })), app.stores().catch(() => [])]);
      image = img; tasks = t.tasks || []; stores = s;
      members = image.visibility === "shared" ? await v2.members(id).then((m) => m.members)
        .catch(() => null) : null;
    } catch (err) {
      if (!alive) return;
      body.hidden = true;
      title.textContent = err.status === 404 ? "Image not found" : "Image";
      signatures.head = null;
      head.replaceChildren(err.status === 404
        ? h("div", { class: "error-box", role: "alert" },
            "There is no image ", h("code", {}, id), " that you can see. ",
            h("a", { href: "#/" }, "Back to the list"))
        : errorBox(err, load));
      return;
    }
    if (!alive) return;
    render();
    const busy = BUSY.has(image.status) || names(image[IMPORTING]).length ||
      tasks.some((t) => t.status === "pending" || t.status === "processing");
    if (busy) timer = setTimeout(load, 1000);
  }

  function section(name, build) {
    // rebuild a section only when what it shows changed (keeps focus and scroll otherwise)
    const signature = JSON.stringify([image, tasks, members, stores, editing, session.caller]);
    if (signatures[name] === signature) return;
    signatures[name] = signature;
    sections[name].replaceChildren(...build().flat().filter(Boolean));
  }

  function render() {
    body.hidden = false;
    title.textContent = image.name || "(no name)";
    document.title = `${title.textContent} · glance console`;
    drawHead();
    if (!editing) section("details", renderDetails);
    section("stores", renderStores);
    section("tasks", renderTasks);
    sections.members.hidden = image.visibility !== "shared";
    if (!sections.members.hidden) section("members", renderMembers);
  }

  // -- head: badges and actions ---------------------------------------------------------------

  function drawHead() {
    const signature = JSON.stringify([image, editing, session.caller]);
    if (signatures.head === signature) return;  // keeps the focus on a button while polling
    signatures.head = signature;
    head.replaceChildren(...renderHead());
  }

  function renderHead() {
    const mine = app.canChange(image);
    const admin = session.caller && session.caller.is_admin;
    const canDownload = image.status === "active" || (image.status === "deactivated" && admin);
    const actions = h("div", { class: "actions", role: "toolbar", "aria-label": "Image actions" },
      canDownload ? h("button", { type: "button", id: "download", onclick: download },
                      "Download") : null,
      mine && !editing ? h("button", { type: "button", class: "secondary", id: "edit",
                                       onclick: startEdit }, "Edit") : null,
      mine && image.status === "active" ? h("button", { type: "button", class: "secondary",
        id: "deactivate", onclick: () => action("deactivate") }, "Deactivate") : null,
      mine && image.status === "deactivated" ? h("button", { type: "button",
        class: "secondary", id: "reactivate", onclick: () => action("reactivate") },
        "Reactivate") : null,
      mine ? h("button", { type: "button", class: "danger", id: "delete", onclick: remove,
                           disabled: image.protected,
                           title: image.protected ? "Protected: unprotect it first" : null },
               "Delete") : null);
    return [
      h("div", { class: "badges" }, statusBadge(image.status),
        h("span", { class: "vis" }, image.visibility),
        image.protected ? h("span", { class: "vis lock" }, "protected") : null,
        image.os_hidden ? h("span", { class: "vis" }, "hidden") : null,
        h("span", { class: "mono muted id" }, image.id)),
      actions,
    ];
  }

  // -- details: fields, properties, tags -------------------------------------------------------

  function renderDetails() {
    const row = (label, value, cls) => [h("dt", {}, label),
                                        h("dd", { class: cls || null }, value ?? "—")];
    const bytes = (n) => n == null ? "—" : `${formatSize(n)} (${n.toLocaleString()} bytes)`;
    // every extra property; the server's own bookkeeping only while it says something
    const props = Object.keys(image).filter((k) => !BASE.has(k) &&
      !(serverOwned(k) && image[k] === "")).sort();
    return [
      h("h2", { id: "s-details" }, "Details"),
      h("dl", { class: "fields" },
        row("ID", image.id, "mono"),
        row("Status", statusBadge(image.status)),
        row("Owner", image.owner, "mono"),
        row("Visibility", image.visibility),
        row("Protected", image.protected ? "yes" : "no"),
        row("Hidden", image.os_hidden ? "yes (not in default lists)" : "no"),
        row("Size", bytes(image.size)),
        row("Virtual size", bytes(image.virtual_size)),
        row("Disk format", image.disk_format),
        row("Container format", image.container_format),
        row("Min. disk", `${image.min_disk ?? 0} GiB`),
        row("Min. RAM", `${image.min_ram ?? 0} MiB`),
        row("Created", h("time", { datetime: image.created_at, title: image.created_at },
                         formatDate(image.created_at))),
        row("Updated", h("time", { datetime: image.updated_at, title: image.updated_at },
                         formatDate(image.updated_at))),
        row("Checksum (MD5)", image.checksum, "mono wrap"),
        row(`Hash${image.os_hash_algo ? ` (${image.os_hash_algo})` : ""}`, image.os_hash_value,
            "mono wrap")),
      h("h3", {}, "Tags"),
      image.tags.length
        ? h("ul", { class: "tags", "aria-label": "Tags" }, image.tags.map((t) => h("li", {}, t)))
        : h("p", { class: "muted" }, "No tags."),
      h("h3", {}, "Properties"),
      props.length
        ? h("table", { class: "kv", id: "properties" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Property"),
                                     h("th", { scope: "col" }, "Value"))),
            h("tbody", {}, props.map((k) => h("tr", {},
              h("th", { scope: "row", class: "mono" }, k,
                serverOwned(k) ? h("span", { class: "muted small" }, " (set by the server)")
                  : null),
              h("td", { class: "wrap" }, String(image[k]))))))
        : h("p", { class: "muted" }, "No extra properties."),
    ];
  }

  // -- edit ------------------------------------------------------------------------------------

  function startEdit() {
    editing = true;
    signatures.details = null;
    const admin = session.caller && session.caller.is_admin;
    const visibilities = ["private", "shared", "community"];
    if (admin || image.visibility === "public") visibilities.push("public");
    let tags = [...image.tags];
    const error = h("div", { class: "form-error", role: "alert" });
    const input = (label, attrs) => h("div", { class: "field" },
      h("label", { for: attrs.id }, label), h("input", attrs));
    const check = (label, attrs) => h("div", { class: "field check" },
      h("input", { type: "checkbox", ...attrs }), h("label", { for: attrs.id }, label));
    const propRows = h("tbody", {});
    const addProp = (key = "", value = "") => {
      const tr = h("tr", {},
        h("td", {}, h("input", { class: "prop-key mono", value: key, "aria-label": "Property name",
                                 placeholder: "name" })),
        h("td", {}, h("input", { class: "prop-value", value, "aria-label": `Value of ${key || "new property"}`,
                                 placeholder: "value" })),
        h("td", {}, h("button", { type: "button", class: "secondary small",
          "aria-label": `Remove property ${key}`, onclick: () => tr.remove() }, "Remove")));
      propRows.append(tr);
      return tr;
    };
    const editable = Object.keys(image).filter((k) => !BASE.has(k) && !serverOwned(k)).sort();
    editable.forEach((k) => addProp(k, String(image[k])));
    const tagList = h("ul", { class: "tags editable", "aria-label": "Tags" });
    const drawTags = () => tagList.replaceChildren(...tags.map((t) => h("li", {}, t,
      h("button", { type: "button", class: "chip-x", "aria-label": `Remove tag ${t}`,
                    onclick: () => { tags = tags.filter((x) => x !== t); drawTags(); } }, "×"))));
    drawTags();
    const tagInput = h("input", { id: "e-tag", placeholder: "new tag", autocomplete: "off" });
    const addTag = () => {
      const t = tagInput.value.trim();
      if (t && !tags.includes(t)) { tags.push(t); drawTags(); }
      tagInput.value = "";
      tagInput.focus();
    };
    tagInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); addTag(); }
    });
    const form = h("form", { class: "edit", novalidate: true },
      h("h2", { id: "s-details" }, "Edit image"),
      input("Name", { id: "e-name", value: image.name || "", maxlength: 255 }),
      h("div", { class: "field" }, h("label", { for: "e-visibility" }, "Visibility"),
        h("select", { id: "e-visibility" }, visibilities.map((v) =>
          h("option", { value: v, selected: v === image.visibility }, v)))),
      h("div", { class: "row" },
        check("Protected (cannot be deleted)", { id: "e-protected", checked: image.protected }),
        check("Hidden from default lists", { id: "e-hidden", checked: image.os_hidden })),
      h("div", { class: "row" },
        input("Min. disk (GiB)", { id: "e-min-disk", type: "number", min: 0,
                                   value: image.min_disk ?? 0 }),
        input("Min. RAM (MiB)", { id: "e-min-ram", type: "number", min: 0,
                                  value: image.min_ram ?? 0 })),
      h("h3", {}, "Tags"), tagList,
      h("div", { class: "inline" }, tagInput,
        h("button", { type: "button", class: "secondary", onclick: addTag }, "Add tag")),
      h("h3", {}, "Properties"),
      h("table", { class: "kv edit-props" }, propRows),
      h("button", { type: "button", class: "secondary", id: "add-prop",
                    onclick: () => addProp().querySelector("input").focus() }, "Add property"),
      error,
      h("div", { class: "actions" },
        h("button", { type: "submit", id: "save" }, "Save changes"),
        h("button", { type: "button", class: "secondary", id: "cancel-edit",
                      onclick: stopEdit }, "Cancel")));
    form.addEventListener("keydown", (e) => { if (e.key === "Escape") stopEdit(); });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.textContent = "";
      const value = (sel) => form.querySelector(sel);
      const ops = [];
      const set = (key, val) => {
        if (JSON.stringify(val) !== JSON.stringify(image[key] ?? null)) {
          ops.push({ op: "replace", path: pointer(key), value: val });
        }
      };
      const numberOf = (sel, label) => {
        const n = Number(value(sel).value);
        if (!Number.isInteger(n) || n < 0) throw new Error(`${label} must be a whole number ≥ 0`);
        return n;
      };
      try {
        const name = value("#e-name").value.trim();
        set("name", name || null);
        set("visibility", value("#e-visibility").value);
        set("protected", value("#e-protected").checked);
        set("os_hidden", value("#e-hidden").checked);
        set("min_disk", numberOf("#e-min-disk", "Min. disk"));
        set("min_ram", numberOf("#e-min-ram", "Min. RAM"));
        if (JSON.stringify(tags) !== JSON.stringify(image.tags)) {
          ops.push({ op: "replace", path: "/tags", value: tags });
        }
        const wanted = new Map();
        for (const tr of propRows.children) {
          const k = tr.querySelector(".prop-key").value.trim();
          const v = tr.querySelector(".prop-value").value;
          if (!k && !v) continue;
          if (!k) throw new Error("Every property needs a name");
          if (wanted.has(k)) throw new Error(`Property ${k} is given twice`);
          wanted.set(k, v);
        }
        for (const k of editable) {
          if (!wanted.has(k)) ops.push({ op: "remove", path: pointer(k) });
        }
        for (const [k, v] of wanted) {
          if (!(k in image)) ops.push({ op: "add", path: pointer(k), value: v });
          else if (String(image[k]) !== v) ops.push({ op: "replace", path: pointer(k), value: v });
        }
      } catch (err) {
        error.textContent = err.message;
        return;
      }
      if (!ops.length) { stopEdit(); return; }
      const save = form.querySelector("#save");
      save.disabled = true;
      try {
        image = await v2.patch(id, ops);
        editing = false;
        signatures.details = null;
        app.toast("Changes saved");
        render();
        document.getElementById("edit")?.focus();
      } catch (err) {
        error.replaceChildren(errorBox(err));
      } finally {
        save.disabled = false;
      }
    });
    sections.details.replaceChildren(form);
    drawHead();
    form.querySelector("#e-name").focus();
  }

  function stopEdit() {
    editing = false;
    signatures.details = null;
    render();
    document.getElementById("edit")?.focus();
  }

  // -- stores and copies ------------------------------------------------------------------------

  function renderStores() {
    const held = names(image.stores);
    const copying = names(image[IMPORTING]);
    const failed = names(image[FAILED]);
    const mine = app.canChange(image);
    const known = stores.map((s) => s.id);
    // read-only stores (the web-download source) can never hold a copy: only shown if they do
    const rows = [...stores.filter((s) => s["read-only"] !== "true" || held.includes(s.id)),
                  ...held.filter((n) => !known.includes(n)).map((n) => ({ id: n }))];
    const stateOf = (name) => held.includes(name) ? ["holds a copy", "ok"]
      : copying.includes(name) ? ["copying…", "busy"]
      : failed.includes(name) ? ["copy failed", "bad"] : ["no copy", "idle"];
    const canCopy = mine && image.status === "active" && !copying.length;
    return [
      h("h2", { id: "s-stores" }, "Stores and copies"),
      copying.length ? h("p", { class: "notice", role: "status" },
        h("span", { class: "spinner", "aria-hidden": "true" }),
        ` Copying to ${copying.join(", ")}…`) : null,
      failed.length ? h("p", { class: "error-box" },
        `The last copy to ${failed.join(", ")} failed; see the import tasks below.`) : null,
      !rows.length ? h("p", { class: "muted" }, "This server lists no stores.") :
      h("table", { class: "grid", id: "stores" },
        h("thead", {}, h("tr", {}, ["Store", "Kind", "This image", ""].map((c) =>
          h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows.map((s) => {
          const [label, tone] = stateOf(s.id);
          let act = null;
          if (tone === "idle" || tone === "bad") {
            if (canCopy && s["read-only"] !== "true") {
              act = h("button", { type: "button", class: "secondary small",
                                  dataset: { copy: s.id }, onclick: () => copyTo(s.id) },
                      `Copy to ${s.id}`);
            }
          } else if (tone === "ok" && mine && held.length > 1 && image.status === "active") {
            act = h("button", { type: "button", class: "secondary small",
                                dataset: { uncopy: s.id }, onclick: () => removeCopy(s.id) },
                    "Remove copy");
          }
          return h("tr", { dataset: { store: s.id } },
            h("td", { class: "mono" }, s.id, s.default === "true"
              ? h("span", { class: "muted small" }, " (default)") : null),
            h("td", { class: "nowrap" }, s.description || "—",
              s["read-only"] === "true" ? h("span", { class: "muted small" }, " · read-only")
                : null),
            h("td", {}, h("span", { class: `status tone-${tone}` }, label)),
            h("td", { class: "end" }, act));
        }))),
    ];
  }

  async function copyTo(store) {
    try {
      await v2.copy(id, [store]);
      app.toast(`Copying to ${store}…`);
    } catch (err) {
      app.toast(err.message, "bad");
    }
    load();
  }

  async function removeCopy(store) {
    const ok = await app.confirm(`Remove the copy in ${store}?`,
      "The image keeps its other copies; only the bytes in this store are deleted.",
      "Remove copy");
    if (!ok) return;
    try {
      await v2.removeCopy(id, store);
      app.toast(`Copy in ${store} removed`);
    } catch (err) {
      app.toast(err.message, "bad");
    }
    load();
  }

  // -- import tasks ----------------------------------------------------------------------------

  function renderTasks() {
    return [
      h("h2", { id: "s-tasks" }, "Import tasks"),
      !tasks.length ? h("p", { class: "muted" }, "No import tasks for this image.") :
      h("table", { class: "grid", id: "tasks" },
        h("thead", {}, h("tr", {}, ["Task", "Status", "Message"].map((c) =>
          h("th", { scope: "col" }, c)))),
        h("tbody", {}, tasks.map((t) => {
          const req = t.input && t.input.import_req;
          const method = req && req.method ? req.method.name : t.type;
          const stores = req && req.stores ? ` → ${req.stores.join(", ")}` : "";
          return h("tr", { dataset: { task: t.id } },
            h("td", {}, method + stores,
              h("span", { class: "sub", title: `task ${t.id}, updated ${t.updated_at}` },
                h("span", { class: "mono" }, t.id.slice(0, 8)), ` · ${formatDate(t.updated_at)}`)),
            h("td", {}, statusBadge(t.status)),
            h("td", { class: "message" }, t.message || "—"));
        }))),
    ];
  }

  // -- members (shared images) -----------------------------------------------------------------

  function renderMembers() {
    const mine = app.canChange(image);
    const me = session.caller && session.caller.owner;
    const list = members || [];
    const memberInput = h("input", { id: "member-id", placeholder: "project id",
                                     autocomplete: "off" });
    return [
      h("h2", { id: "s-members" }, "Members"),
      h("p", { class: "muted" }, "Projects this shared image is offered to; each accepts or " +
        "rejects it."),
      members === null ? h("p", { class: "muted" }, "Members are not visible to you.") :
      !list.length ? h("p", { class: "muted" }, "No members yet.") :
      h("table", { class: "grid", id: "members" },
        h("thead", {}, h("tr", {}, ["Project", "Status", "Since", ""].map((c) =>
          h("th", { scope: "col" }, c)))),
        h("tbody", {}, list.map((m) => h("tr", { dataset: { member: m.member_id } },
          h("td", { class: "mono" }, m.member_id),
          h("td", {}, statusBadge(m.status)),
          h("td", { title: m.created_at }, formatDate(m.created_at)),
          h("td", { class: "end" },
            m.member_id === me && !mine ? [
              m.status !== "accepted" ? h("button", { type: "button", class: "small",
                onclick: () => memberStatus(m.member_id, "accepted") }, "Accept") : null,
              m.status !== "rejected" ? h("button", { type: "button", class: "secondary small",
                onclick: () => memberStatus(m.member_id, "rejected") }, "Reject") : null,
            ] : null,
            mine ? h("button", { type: "button", class: "secondary small",
              "aria-label": `Remove member ${m.member_id}`,
              onclick: () => removeMember(m.member_id) }, "Remove") : null))))),
      mine ? h("form", { class: "inline", onsubmit: async (e) => {
        e.preventDefault();
        const member = memberInput.value.trim();
        if (!member) return;
        try {
          await v2.addMember(id, member);
          app.toast(`${member} added`);
        } catch (err) { app.toast(err.message, "bad"); }
        load();
      } }, h("label", { for: "member-id", class: "sr-only" }, "Project id"), memberInput,
        h("button", { type: "submit", class: "secondary" }, "Add member")) : null,
    ];
  }

  async function memberStatus(member, status) {
    try { await v2.setMember(id, member, status); } catch (err) { app.toast(err.message, "bad"); }
    load();
  }

  async function removeMember(member) {
    try { await v2.removeMember(id, member); } catch (err) { app.toast(err.message, "bad"); }
    load();
  }

  // -- actions ---------------------------------------------------------------------------------

  async function action(name) {
    if (busyAction) return;
    busyAction = true;
    try {
      await v2.action(id, name);
      app.toast(name === "deactivate" ? "Image deactivated" : "Image reactivated");
    } catch (err) {
      app.toast(err.message, "bad");
    } finally {
      busyAction = false;
    }
    await load();
    document.getElementById(name === "deactivate" ? "reactivate" : "deactivate")?.focus();
  }

  async function download() {
    // A single-use ticket for this image: the browser streams the bytes to disk itself, and
    // no token ever appears in a URL.
    try {
      const { url } = await consoleApi.download(id);
      const a = h("a", { href: url, download: "", hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      app.toast("Download started");
    } catch (err) {
      app.toast(err.message, "bad");
    }
  }

  async function remove() {
    const ok = await app.confirm(`Delete “${image.name || image.id}”?`,
      "The image and its data in every store are deleted. This cannot be undone.",
      "Delete image");
    if (!ok) return;
    try {
      await v2.remove(id);
      app.toast("Image deleted");
      location.hash = "#/";
    } catch (err) {
      app.toast(err.message, "bad");
      load();
    }
  }

  load();
  return {
    name: "image",
    id,
    cleanup() { alive = false; clearTimeout(timer); },
  };
}
