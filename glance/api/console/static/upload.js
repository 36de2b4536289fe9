// Upload: choose or drop a file, name and formats; the browser streams it (XMLHttpRequest
// sends the File from disk) with a progress bar, rate and time left; Cancel aborts the
// transfer and deletes the image record this page created, so nothing is left behind.

import { ApiError, deleteOnExit, session, uploadData, v2 } from "./api.js";
import { errorBox, formatDuration, formatRate, formatSize, h } from "./util.js";

const DISK_FORMATS = ["raw", "qcow2", "iso", "vmdk", "vhd", "vhdx", "vdi", "ploop", "ami",
                      "ari", "aki"];
const CONTAINER_FORMATS = ["bare", "ovf", "ova", "docker", "ami", "ari", "aki"];
const BY_EXTENSION = { qcow2: "qcow2", qcow: "qcow2", img: "raw", raw: "raw", iso: "iso",
  vmdk: "vmdk", vhd: "vhd", vhdx: "vhdx", vdi: "vdi", hds: "ploop" };

// The upload in progress (one at a time); it goes on while the user looks at other pages.
let current = null;

function guessFormat(name) {
  const ext = (name.split(".").pop() || "").toLowerCase();
  return BY_EXTENSION[ext] || "raw";
}

function onPageHide() {
  if (current && current.imageId && current.state === "sending") deleteOnExit(current.imageId);
}

function onBeforeUnload(event) {
  if (current && current.state === "sending") event.preventDefault();
}

window.addEventListener("pagehide", onPageHide);
window.addEventListener("beforeunload", onBeforeUnload);

class Upload {
  constructor(file, fields, store) {
    this.file = file;
    this.fields = fields;
    this.store = store;
    this.state = "creating";   // creating, sending, finishing, done, cancelling, cancelled, failed
    this.loaded = 0;
    this.samples = [];
    this.listeners = new Set();
    this.imageId = null;
    this.error = null;
    this.transfer = null;
  }

  emit() { for (const f of this.listeners) f(this); }

  get rate() {
    const s = this.samples;
    if (s.length < 2) return 0;
    const [t0, b0] = s[0], [t1, b1] = s[s.length - 1];
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }

  progress(loaded) {
    const now = performance.now();
    this.loaded = loaded;
    this.samples.push([now, loaded]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 3000) this.samples.shift();
    if (loaded >= this.file.size && this.state === "sending") this.state = "finishing";
    this.emit();
  }

  async start() {
    try {
      const image = await v2.create(this.fields);
      this.imageId = image.id;
      if (this.state === "cancelling") { await this.cleanUp(); return; }
      this.state = "sending";
      this.samples = [[performance.now(), 0]];
      this.emit();
      this.transfer = uploadData(image.id, this.file,
                                 { store: this.store, onProgress: (l) => this.progress(l) });
      await this.transfer.done;
      this.state = "done";
      this.emit();
    } catch (err) {
      if (err.name === "AbortError" || this.state === "cancelling") {
        await this.cleanUp();
        return;
      }
      this.error = err;
      this.state = "failed";
      this.emit();
      if (this.imageId) await this.remove().catch(() => {});
    }
  }

  cancel() {
    if (!["creating", "sending", "finishing"].includes(this.state)) return;
    this.state = "cancelling";
    this.emit();
    if (this.transfer) this.transfer.abort();
  }

  // After a cancel: the server has (or soon has) dropped the partial data; delete the record.
  async cleanUp() {
    try {
      if (this.imageId) await this.remove();
      this.state = "cancelled";
    } catch (err) {
      this.error = err;
      this.state = "failed";
    }
    this.emit();
  }

  async remove() {
    // The server may still be closing the aborted upload for a moment: retry a conflict.
    for (let attempt = 0; ; attempt++) {
      try {
        await v2.remove(this.imageId);
        return;
      } catch (err) {
        if (err.status === 404) return;
        if (attempt >= 20 || !(err instanceof ApiError) || ![409, 403].includes(err.status)) {
          throw err;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
}

export function uploadView(root, route, app) {
  root.append(h("div", { class: "page-head" }, h("h1", {}, "Upload image")));
  const panel = h("div", { class: "card upload" });
  root.append(panel);
  let listener = null;

  function showForm() {
    let file = null;
    const input = h("input", { type: "file", id: "file", class: "sr-only" });
    const chosen = h("p", { class: "chosen", id: "chosen" }, "No file chosen.");
    const drop = h("label", { class: "drop", for: "file", id: "drop" },
      h("strong", {}, "Drop a disk image here"), h("span", {}, "or choose a file"));
    const name = h("input", { id: "u-name", maxlength: 255, autocomplete: "off" });
    const disk = h("select", { id: "u-disk" }, DISK_FORMATS.map((f) => h("option", {}, f)));
    const container = h("select", { id: "u-container" },
                        CONTAINER_FORMATS.map((f) => h("option", {}, f)));
    const admin = session.caller && session.caller.is_admin;
    const visibility = h("select", { id: "u-visibility" },
      ["private", "shared", "community", ...(admin ? ["public"] : [])].map((v) =>
        h("option", {}, v)));
    const storeField = h("div", { class: "field", hidden: true });
    const error = h("div", { class: "form-error", role: "alert" });
    const submit = h("button", { type: "submit", id: "start-upload", disabled: true }, "Upload");
    const field = (label, id, control) => h("div", { class: "field" },
                                           h("label", { for: id }, label), control);
    const form = h("form", { novalidate: true },
      drop, input, chosen,
      field("Name", "u-name", name),
      h("div", { class: "row" }, field("Disk format", "u-disk", disk),
        field("Container format", "u-container", container),
        field("Visibility", "u-visibility", visibility)),
      storeField, error,
      h("div", { class: "actions" }, submit,
        h("a", { class: "button secondary", href: "#/" }, "Back to images")));
    panel.replaceChildren(form);

    app.stores().then((stores) => {
      const writable = stores.filter((s) => s["read-only"] !== "true");
      if (writable.length < 2) return;
      storeField.replaceChildren(h("label", { for: "u-store" }, "Store"),
        h("select", { id: "u-store" }, writable.map((s) => h("option",
          { value: s.id, selected: s.default === "true" },
          `${s.id}${s.default === "true" ? " (default)" : ""}`))));
      storeField.hidden = false;
    }).catch(() => {});

    const choose = (f) => {
      if (!f) return;
      file = f;
      chosen.textContent = `${f.name} · ${formatSize(f.size)}`;
      if (!name.value || name.dataset.auto === "1") {
        name.value = f.name.replace(/\.[^.]+$/, "");
        name.dataset.auto = "1";
      }
      disk.value = guessFormat(f.name);
      submit.disabled = false;
    };
    name.addEventListener("input", () => { name.dataset.auto = ""; });
    input.addEventListener("change", () => choose(input.files[0]));
    for (const type of ["dragenter", "dragover"]) {
      drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
    }
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      choose(e.dataTransfer.files[0]);
    });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!file) { error.textContent = "Choose a file first."; return; }
      const fields = { name: name.value.trim() || file.name, disk_format: disk.value,
                       container_format: container.value, visibility: visibility.value };
      const store = form.querySelector("#u-store")?.value || null;
      current = new Upload(file, fields, store);
      current.start();
      showProgress();
    });
  }

  function showProgress() {
    const up = current;
    const bar = h("div", { class: "bar-fill" });
    const meter = h("div", { class: "meter", role: "progressbar", id: "upload-progress",
      "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0",
      "aria-label": "Upload progress" }, bar);
    const figures = h("p", { class: "figures", id: "upload-figures" });
    const state = h("p", { class: "upload-state", id: "upload-state", role: "status" });
    const cancel = h("button", { type: "button", class: "danger", id: "cancel-upload",
                                 onclick: () => up.cancel() }, "Cancel upload");
    const after = h("div", { class: "actions" });
    panel.replaceChildren(
      h("h2", {}, up.fields.name),
      h("p", { class: "muted" }, `${up.file.name} · ${formatSize(up.file.size)} · ` +
        `${up.fields.disk_format}/${up.fields.container_format}` +
        (up.store ? ` · store ${up.store}` : "")),
      meter, figures, state, h("div", { class: "actions" }, cancel), after);

    const draw = () => {
      const size = up.file.size;
      const pct = size ? Math.min(100, Math.floor((up.loaded / size) * 100)) : 100;
      bar.style.width = `${pct}%`;
      meter.setAttribute("aria-valuenow", String(pct));
      meter.dataset.state = up.state;
      const rate = up.rate;
      const left = rate > 0 ? (size - up.loaded) / rate : NaN;
      figures.textContent = `${formatSize(up.loaded)} of ${formatSize(size)} (${pct}%)` +
        (up.state === "sending" ? ` · ${formatRate(rate)} · ${formatDuration(left)} left` : "");
      cancel.hidden = !["creating", "sending", "finishing"].includes(up.state);
      state.className = "upload-state";
      after.replaceChildren();
      switch (up.state) {
        case "creating": state.textContent = "Creating the image record…"; break;
        case "sending": state.textContent = "Uploading…"; break;
        case "finishing":
          state.textContent = "All bytes sent; the server is checking and storing them…"; break;
        case "cancelling": state.textContent = "Cancelling…"; break;
        case "cancelled":
          state.textContent = "Upload cancelled. The image record and its partial data " +
            "were removed.";
          after.append(h("button", { type: "button", onclick: () => { current = null;
            showForm(); } }, "Upload another"));
          break;
        case "failed":
          state.replaceChildren(errorBox(up.error), up.imageId
            ? "The image record this upload created was removed." : "");
          after.append(h("button", { type: "button", onclick: () => { current = null;
            showForm(); } }, "Try again"));
          break;
        case "done":
          state.textContent = "Uploaded.";
          state.classList.add("ok");
          after.append(h("a", { class: "button", href: `#/images/${up.imageId}` },
                         "Open image"));
          break;
      }
    };
    if (listener && listener.up) listener.up.listeners.delete(listener);
    listener = (u) => {
      draw();
      if (u.state === "done" && location.hash === "#/upload") {
        current = null;
        app.toast("Upload complete");
        location.hash = `#/images/${u.imageId}`;
      }
    };
    listener.up = up;
    up.listeners.add(listener);
    draw();
    cancel.focus();
  }

  if (current && !["done"].includes(current.state)) showProgress(); else showForm();
  return {
    name: "upload",
    cleanup() { if (listener && listener.up) listener.up.listeners.delete(listener); },
  };
}
