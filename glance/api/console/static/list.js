// The image list: name search, filters, sort by any column, marker paging. Its state lives in
// the address (#/?q=…&status=…&sort=name:asc&limit=25&marker=…), so reload and Back work.

import { v2 } from "./api.js";
import { errorBox, esc, formatDate, formatSize, h, statusHtml } from "./util.js";

const COLUMNS = [
  { key: "name", label: "Name", dir: "asc" },
  { key: "status", label: "Status", dir: "asc" },
  { key: "disk_format", label: "Disk format", dir: "asc" },
  { key: "container_format", label: "Container", dir: "asc" },
  { key: "size", label: "Size", dir: "desc", num: true },
  { key: "created_at", label: "Created", dir: "desc" },
  { key: "updated_at", label: "Updated", dir: "desc" },
];
const STATUSES = ["active", "queued", "saving", "uploading", "importing", "deactivated",
                  "killed"];
const DISK_FORMATS = ["raw", "qcow2", "iso", "vmdk", "vhd", "vhdx", "vdi", "ploop", "ami",
                      "ari", "aki"];
const VISIBILITIES = ["public", "private", "shared", "community", "all",
                      ["pending", "offered to me (pending)"]];
const PAGE_SIZES = ["25", "50", "100", "250", "1000"];
const FILTERS = ["q", "status", "disk_format", "visibility", "tag"];
const SCAN_PAGE = 1000;       // a name search reads the catalogue in pages of this size …
const SCAN_LIMIT = 20000;     // … and at most this many images before it pauses

// Markers of the pages before the current one, for "Previous" (v2 paging is forward-only).
let previous = [];
let previousKey = "";

function select(id, label, options, anyLabel) {
  return h("div", { class: "field" }, h("label", { for: id }, label),
    h("select", { id },
      anyLabel ? h("option", { value: "" }, anyLabel) : null,
      options.map((o) => Array.isArray(o) ? h("option", { value: o[0] }, o[1])
                                          : h("option", { value: o }, o))));
}

export function listView(root, route) {
  let params = route.params;
  let controller = null;

  const search = h("input", { id: "q", type: "search", placeholder: "Name contains…",
                              autocomplete: "off", "aria-label": "Search by name" });
  const tag = h("input", { id: "tag", type: "text", placeholder: "Tag", autocomplete: "off",
                           "aria-label": "Filter by tag" });
  const toolbar = h("form", { class: "toolbar", role: "search" },
    h("div", { class: "field grow" }, h("label", { for: "q" }, "Name"), search),
    select("status", "Status", STATUSES, "Any status"),
    select("disk_format", "Disk format", DISK_FORMATS, "Any format"),
    select("visibility", "Visibility", VISIBILITIES, "Default"),
    h("div", { class: "field" }, h("label", { for: "tag" }, "Tag"), tag),
    h("div", { class: "field end" },
      h("button", { type: "button", class: "secondary", id: "clear" }, "Clear")));
  const region = h("div", { class: "results", "aria-busy": "true" });
  const pageSize = h("select", { id: "limit", "aria-label": "Images per page" },
                     PAGE_SIZES.map((n) => h("option", { value: n }, `${n} per page`)));
  const info = h("span", { class: "muted", id: "page-info" });
  const prev = h("button", { type: "button", class: "secondary", id: "prev" }, "← Previous");
  const next = h("button", { type: "button", class: "secondary", id: "next" }, "Next →");
  const pager = h("div", { class: "pager" }, info, h("span", { class: "spacer" }), pageSize,
                  prev, next);
  root.append(
    h("div", { class: "page-head" }, h("h1", {}, "Images"),
      h("a", { class: "button", href: "#/upload" }, "Upload image")),
    toolbar, region, pager);

  function setParams(changes, { replace = false, keepPage = false } = {}) {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === undefined || v === "") p.delete(k); else p.set(k, v);
    }
    if (!keepPage) p.delete("marker");
    params = p;  // at once: another change may come before the hashchange event does
    const hash = `#/${p.toString() ? `?${p}` : ""}`;
    if (replace) {
      history.replaceState(null, "", hash);
      update({ params: p });
    } else {
      location.hash = hash;
    }
  }

  let typing;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => setParams({ q: search.value.trim() }, { replace: true }), 300);
  });
  tag.addEventListener("change", () => setParams({ tag: tag.value.trim() }));
  toolbar.addEventListener("submit", (e) => {
    e.preventDefault();
    clearTimeout(typing);
    setParams({ q: search.value.trim(), tag: tag.value.trim() });
  });
  for (const id of ["status", "disk_format", "visibility"]) {
    toolbar.querySelector(`#${id}`).addEventListener("change",
      (e) => setParams({ [id]: e.target.value }));
  }
  toolbar.querySelector("#clear").addEventListener("click", () => {
    clearTimeout(typing);
    const p = new URLSearchParams(params);
    FILTERS.forEach((k) => p.delete(k));
    p.delete("marker");
    params = p;
    location.hash = `#/${p.toString() ? `?${p}` : ""}`;
  });
  pageSize.addEventListener("change", () => setParams({ limit: pageSize.value }));
  region.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-sort]");
    if (button) {
      const key = button.dataset.sort;
      const [curKey, curDir] = sortOf(params);
      const column = COLUMNS.find((c) => c.key === key);
      const dir = key === curKey ? (curDir === "asc" ? "desc" : "asc") : column.dir;
      setParams({ sort: `${key}:${dir}` });
      return;
    }
    if (e.target.closest("button[data-clear]")) toolbar.querySelector("#clear").click();
    if (e.target.closest("button[data-retry]")) load();
  });
  let nextMarker = null;
  next.addEventListener("click", () => {
    previous.push(params.get("marker") || "");
    setParams({ marker: nextMarker }, { keepPage: true });
  });
  prev.addEventListener("click", () => {
    const marker = previous.pop();
    setParams({ marker: marker || null }, { keepPage: true });
  });

  function syncControls() {
    if (document.activeElement !== search) search.value = params.get("q") || "";
    if (document.activeElement !== tag) tag.value = params.get("tag") || "";
    for (const id of ["status", "disk_format", "visibility"]) {
      toolbar.querySelector(`#${id}`).value = params.get(id) || "";
    }
    pageSize.value = PAGE_SIZES.includes(params.get("limit")) ? params.get("limit") : "25";
    // a change of filters or order starts the page history anew
    const key = [...FILTERS, "sort", "limit"].map((k) => params.get(k) || "").join("\u0000");
    if (key !== previousKey || !params.get("marker")) previous = [];
    previousKey = key;
  }

  async function load() {
    if (controller) controller.abort();
    controller = new AbortController();
    const { signal } = controller;
    region.setAttribute("aria-busy", "true");
    region.classList.add("stale");
    const started = performance.now();
    try {
      const page = await fetchPage(params, signal);
      if (signal.aborted) return;
      const fetched = performance.now();
      render(page);
      const rendered = performance.now();
      const table = region.querySelector("table");
      if (table) {  // timings, for whoever wonders (and the tests): fetch, render, first paint
        table.dataset.renderMs = (rendered - fetched).toFixed(1);
        requestAnimationFrame(() => setTimeout(() => {
          table.dataset.paintMs = (performance.now() - started).toFixed(1);
        }));
      }
    } catch (err) {
      if (err.name === "AbortError") return;
      region.replaceChildren(errorBox(err, load));
      region.dataset.state = "error";
      info.textContent = "";
      prev.disabled = next.disabled = true;
    } finally {
      if (!signal.aborted) {
        region.removeAttribute("aria-busy");
        region.classList.remove("stale");
      }
    }
  }

  function render(page) {
    const images = page.images;
    nextMarker = page.next;
    next.disabled = !page.next;
    prev.disabled = !params.get("marker");
    const filtered = FILTERS.some((k) => params.get(k));
    const scanned = page.scanned ? ` · searched ${page.scanned.toLocaleString()} images` : "";
    const pageNo = previous.length + 1;
    info.textContent = images.length
      ? `${images.length.toLocaleString()} image${images.length === 1 ? "" : "s"} · page ${pageNo}${scanned}`
      : scanned.replace(" · ", "");
    if (!images.length) {
      region.dataset.state = "empty";
      region.innerHTML = filtered || params.get("marker")
        ? `<div class="empty"><p><strong>No images match.</strong></p>
           <p class="muted">Nothing here has this name, status, format, visibility or tag${page.next ? " in the images searched so far" : ""}.</p>
           <button type="button" class="secondary" data-clear>Clear filters</button></div>`
        : `<div class="empty"><p><strong>No images yet.</strong></p>
           <p class="muted">Upload a disk image to start the catalogue.</p>
           <a class="button" href="#/upload">Upload image</a></div>`;
      return;
    }
    region.dataset.state = "ok";
    const [sortKey, sortDir] = sortOf(params);
    const head = COLUMNS.map((c) => {
      const active = c.key === sortKey;
      const aria = active ? ` aria-sort="${sortDir === "asc" ? "ascending" : "descending"}"` : "";
      const arrow = active ? (sortDir === "asc" ? "▲" : "▼") : "↕";
      return `<th scope="col" role="columnheader"${aria} class="${c.num ? "num" : ""}"><button type="button" data-sort="${c.key}">${c.label}<span class="arrow" aria-hidden="true">${arrow}</span></button></th>`;
    }).join("");
    const rows = new Array(images.length);
    for (let i = 0; i < images.length; i++) {
      const im = images[i];
      const id = esc(im.id);
      const badges = (im.visibility && im.visibility !== "private"
        ? `<span class="vis">${esc(im.visibility)}</span>` : "") +
        (im.protected ? `<span class="vis lock" title="protected">protected</span>` : "");
      rows[i] = `<tr role="row"><td role="cell" data-label="Name" class="name"><a href="#/images/${encodeURIComponent(im.id)}">${
        im.name ? esc(im.name) : `<em class="muted">(no name)</em>`}</a>${badges}<div class="id mono">${id}</div></td>` +
        `<td role="cell" data-label="Status">${statusHtml(im.status)}</td>` +
        `<td role="cell" data-label="Disk format">${esc(im.disk_format || "—")}</td>` +
        `<td role="cell" data-label="Container">${esc(im.container_format || "—")}</td>` +
        `<td role="cell" data-label="Size" class="num" title="${im.size ?? ""}${im.size != null ? " bytes" : ""}">${formatSize(im.size)}${
          im.virtual_size && im.virtual_size !== im.size ? `<div class="sub">${formatSize(im.virtual_size)} virtual</div>` : ""}</td>` +
        `<td role="cell" data-label="Created" title="${esc(im.created_at)}">${formatDate(im.created_at)}</td>` +
        `<td role="cell" data-label="Updated" title="${esc(im.updated_at)}">${formatDate(im.updated_at)}</td></tr>`;
    }
    // explicit roles: the rows are laid out as grids, which must not cost the table its meaning
    region.innerHTML = `<table class="images" role="table" aria-label="Images" data-count="${images.length}"><thead role="rowgroup"><tr role="row">${head}</tr></thead><tbody role="rowgroup">${rows.join("")}</tbody></table>`;
  }

  function update(r) {
    params = r.params;
    syncControls();
    load();
  }

  update(route);
  return {
    name: "list",
    update,
    cleanup() { if (controller) controller.abort(); clearTimeout(typing); },
  };
}

function sortOf(params) {
  const [key, dir] = (params.get("sort") || "created_at:desc").split(":");
  return COLUMNS.some((c) => c.key === key) ? [key, dir === "asc" ? "asc" : "desc"]
    : ["created_at", "desc"];
}

// One page of images. With a name search, v2 has no "contains" filter: pages of the
// (server-side filtered and sorted) list are read and matched here, until a page is full.
async function fetchPage(params, signal) {
  const [sortKey, sortDir] = sortOf(params);
  const query = new URLSearchParams({ sort_key: sortKey, sort_dir: sortDir });
  for (const k of ["status", "disk_format", "visibility", "tag"]) {
    if (params.get(k)) query.set(k, params.get(k));
  }
  if (params.get("visibility") === "pending") {  // shares offered to me, not yet accepted
    query.set("visibility", "shared");
    query.set("member_status", "pending");
  }
  const limit = Number(PAGE_SIZES.includes(params.get("limit")) ? params.get("limit") : 25);
  const needle = (params.get("q") || "").toLowerCase();
  let marker = params.get("marker") || null;
  if (!needle) {
    query.set("limit", String(limit));
    if (marker) query.set("marker", marker);
    const body = await v2.list(query, signal);
    const images = body.images || [];
    return { images, next: body.next && images.length ? images[images.length - 1].id : null };
  }
  const found = [];
  let scanned = 0;
  query.set("limit", String(SCAN_PAGE));
  for (;;) {
    if (marker) query.set("marker", marker); else query.delete("marker");
    const body = await v2.list(query, signal);
    const images = body.images || [];
    for (const im of images) {
      scanned += 1;
      if ((im.name || "").toLowerCase().includes(needle)) {
        found.push(im);
        if (found.length === limit) return { images: found, next: im.id, scanned };
      }
    }
    if (!body.next || !images.length) return { images: found, next: null, scanned };
    marker = images[images.length - 1].id;
    if (scanned >= SCAN_LIMIT) return { images: found, next: marker, scanned };
  }
}
