// Talking to the server: the v2 API (and the console's three endpoints), the token of this
// browser session, errors in the server's JSON envelope, and streamed uploads.

const TOKEN_KEY = "glance-console-token";
const NAMES_KEY = "glance-console-names";
export const PATCH_TYPE = "application/openstack-images-v2.1-json-patch";

// The token lives in sessionStorage only: gone when the tab or browser session ends, never in
// localStorage, a cookie or a URL.
export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else { sessionStorage.removeItem(TOKEN_KEY); sessionStorage.removeItem(NAMES_KEY); }
  },
  // user and project names to show (Keystone gives ids to the API, names at sign-in)
  get names() { return JSON.parse(sessionStorage.getItem(NAMES_KEY) || "null"); },
  set names(value) { sessionStorage.setItem(NAMES_KEY, JSON.stringify(value)); },
  authMode: "noauth",
  caller: null,
};

export class ApiError extends Error {
  constructor(status, title, message) {
    super(message || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
  }
}

function headers(extra) {
  const h = new Headers(extra);
  const token = session.token;
  if (token) h.set("X-Auth-Token", token);
  return h;
}

async function errorOf(res) {
  let title = res.statusText, message = "";
  try {
    const body = await res.json();
    const e = body && body.error;
    if (e) { title = e.title || title; message = e.message || ""; }
  } catch { /* not JSON */ }
  return new ApiError(res.status, title, message || `${res.status} ${title}`);
}

// One request; resolves to the parsed JSON (null for an empty answer), rejects with ApiError.
// A 401 also tells the app (event "glance:unauthenticated") so it can ask to sign in again.
export async function api(method, path, { json, contentType, body, signal } = {}) {
  const h = headers();
  if (json !== undefined) {
    h.set("Content-Type", contentType || "application/json");
    body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body, cache: "no-store", credentials: "omit",
                              signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "Network error", "The server cannot be reached.");
  }
  if (!res.ok) {
    const err = await errorOf(res);
    // (the sign-in's own requests answer 401 to a wrong token: no need to say it twice)
    if (res.status === 401 && !/^\/console\/api\/(session|keystone-token)/.test(path)) {
      window.dispatchEvent(new CustomEvent("glance:unauthenticated", { detail: err }));
    }
    throw err;
  }
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export const v2 = {
  list: (params, signal) => api("GET", `/v2/images?${params}`, { signal }),
  get: (id) => api("GET", `/v2/images/${encodeURIComponent(id)}`),
  create: (fields) => api("POST", "/v2/images", { json: fields }),
  patch: (id, ops) => api("PATCH", `/v2/images/${encodeURIComponent(id)}`,
                          { json: ops, contentType: PATCH_TYPE }),
  remove: (id) => api("DELETE", `/v2/images/${encodeURIComponent(id)}`),
  action: (id, name) => api("POST", `/v2/images/${encodeURIComponent(id)}/actions/${name}`),
  members: (id) => api("GET", `/v2/images/${encodeURIComponent(id)}/members`),
  addMember: (id, member) => api("POST", `/v2/images/${encodeURIComponent(id)}/members`,
                                 { json: { member } }),
  setMember: (id, member, status) => api(
    "PUT", `/v2/images/${encodeURIComponent(id)}/members/${encodeURIComponent(member)}`,
    { json: { status } }),
  removeMember: (id, member) => api(
    "DELETE", `/v2/images/${encodeURIComponent(id)}/members/${encodeURIComponent(member)}`),
  tasks: (id) => api("GET", `/v2/images/${encodeURIComponent(id)}/tasks`),
  stores: () => api("GET", "/v2/info/stores"),
  copy: (id, stores) => api("POST", `/v2/images/${encodeURIComponent(id)}/import`,
                            { json: { method: { name: "copy-image" }, stores,
                                      all_stores_must_succeed: false } }),
  removeCopy: (id, store) => api(
    "DELETE", `/v2/stores/${encodeURIComponent(store)}/${encodeURIComponent(id)}`),
};

export const consoleApi = {
  session: () => api("GET", "/console/api/session"),
  keystoneToken: (fields) => api("POST", "/console/api/keystone-token", { json: fields }),
  download: (imageId) => api("POST", "/console/api/downloads", { json: { image_id: imageId } }),
};

// PUT the file as the image's data. XMLHttpRequest.send(File) streams it from disk (the page
// never holds it) and reports upload progress. Returns { done: Promise, abort() }.
export function uploadData(imageId, file, { store, onProgress } = {}) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open("PUT", `/v2/images/${encodeURIComponent(imageId)}/file`);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    const token = session.token;
    if (token) xhr.setRequestHeader("X-Auth-Token", token);
    if (store) xhr.setRequestHeader("X-Image-Meta-Store", store);
    xhr.upload.onprogress = (e) => onProgress && onProgress(e.loaded, e.lengthComputable
      ? e.total : file.size);
    xhr.upload.onload = () => onProgress && onProgress(file.size, file.size, true);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) { resolve(); return; }
      let title = xhr.statusText, message = "";
      try {
        const e = JSON.parse(xhr.responseText).error;
        title = e.title || title; message = e.message || "";
      } catch { /* not JSON */ }
      reject(new ApiError(xhr.status, title, message || `${xhr.status} ${title}`));
    };
    xhr.onerror = () => reject(new ApiError(0, "Network error", "The upload was interrupted."));
    xhr.onabort = () => reject(new DOMException("Upload cancelled", "AbortError"));
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}

// Delete an image even while the page goes away (keepalive outlives the page).
export function deleteOnExit(imageId) {
  fetch(`/v2/images/${encodeURIComponent(imageId)}`, {
    method: "DELETE", headers: headers(), keepalive: true, credentials: "omit",
  }).catch(() => {});
}
