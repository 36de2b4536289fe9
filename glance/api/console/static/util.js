// Small helpers: escaping, element building, human-readable sizes, times and rates.

import { ApiError } from "./api.js";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const esc = (value) => String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);

// h("button", {class: "x", onclick: f}, "text", child…): an element; strings become text.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const UNITS = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function formatSize(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) { value /= 1024; unit += 1; }
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${UNITS[unit]}`;
}

export const formatRate = (bytesPerSecond) => `${formatSize(Math.round(bytesPerSecond))}/s`;

export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return "—";
  if (seconds < 1) return "< 1 s";
  seconds = Math.round(seconds);
  if (seconds < 60) return `${seconds} s`;
  const m = Math.floor(seconds / 60), s = seconds % 60;
  if (m < 60) return `${m} min ${String(s).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

const pad = (n) => String(n).padStart(2, "0");

// Local time, compact and sortable by eye: 2026-11-30 09:04 (the exact UTC time is in title).
export function formatDate(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export const STATUS_TONE = {
  active: "ok", queued: "idle", saving: "busy", uploading: "busy", importing: "busy",
  deactivated: "warn", killed: "bad", deleted: "bad", pending_delete: "bad",
  success: "ok", processing: "busy", pending: "idle", failure: "bad",
  accepted: "ok", rejected: "bad",
};

export function statusHtml(status) {
  return `<span class="status tone-${STATUS_TONE[status] || "idle"}">${esc(status)}</span>`;
}

export const statusBadge = (status) => h("span",
  { class: `status tone-${STATUS_TONE[status] || "idle"}` }, status);

// JSON pointer escaping for json-patch paths.
export const pointer = (key) => "/" + key.replace(/~/g, "~0").replace(/\//g, "~1");

// A visible error (the server's message when it sent one), with an optional Retry button.
export function errorBox(err, retry) {
  const message = err instanceof ApiError ? err.message : String(err && err.message || err);
  return h("div", { class: "error-box", role: "alert" },
    h("strong", {}, err && err.title ? `${err.title}: ` : "Error: "), message,
    retry ? h("button", { type: "button", class: "secondary small", onclick: retry }, "Retry")
      : null);
}
