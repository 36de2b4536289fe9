// The console's shell: session and sign-in, the header, routes (#/, #/images/ID, #/upload,
// #/signin), toasts and the confirmation dialog.

import { consoleApi, session, v2 } from "./api.js";
import { errorBox, h } from "./util.js";
import { listView } from "./list.js";
import { imageView } from "./image.js";
import { uploadView } from "./upload.js";

const main = document.getElementById("main");
let view = null;          // { name, update?(route), cleanup?() }
let afterSignIn = "#/";   // where sign-in returns to
let signInNotice = "";
let routed = false;       // true once the first page has been shown

export const app = {
  storesPromise: null,

  // The stores of this server (GET /v2/info/stores), asked once per page load.
  stores() {
    if (!this.storesPromise) {
      this.storesPromise = v2.stores().then((r) => r.stores || []).catch((err) => {
        this.storesPromise = null;
        throw err;
      });
    }
    return this.storesPromise;
  },

  get caller() { return session.caller; },

  // May the caller change this image (owner or admin)?
  canChange(image) {
    const c = session.caller;
    return !!c && (c.is_admin || (c.owner !== null && image.owner === c.owner));
  },

  toast(message, tone = "ok") {
    const el = document.getElementById("toast");
    el.textContent = message;
    el.className = tone === "bad" ? "toast bad" : "toast";
    el.hidden = false;
    clearTimeout(el._timer);
    el._timer = setTimeout(() => { el.hidden = true; }, 4000);
  },

  // A modal question; resolves true when the user confirms.
  confirm(title, text, okLabel) {
    const dialog = document.getElementById("confirm");
    document.getElementById("confirm-title").textContent = title;
    document.getElementById("confirm-text").textContent = text;
    document.getElementById("confirm-ok").textContent = okLabel;
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"),
                              { once: true });
    });
  },

  go(hash) { location.hash = hash; },
};

function parseRoute() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  const params = new URLSearchParams(query);
  let m;
  if ((m = path.match(/^\/images\/([^/]+)$/))) {
    return { name: "image", id: decodeURIComponent(m[1]), params };
  }
  if (path === "/upload") return { name: "upload", params };
  if (path === "/signin") return { name: "signin", params };
  return { name: "list", params };
}

function showHeader() {
  const signedIn = !!session.caller;
  document.getElementById("nav").hidden = !signedIn;
  const who = document.getElementById("who");
  who.hidden = !signedIn;
  if (!signedIn) return;
  const c = session.caller;
  const names = session.names || {};
  const user = names.user || c.user_id, project = names.project || c.project_id;
  const label = session.authMode === "noauth"
    ? "no authentication (administrator)"
    : [user, project && `project ${project}`, [...c.roles].sort().join(", ")].filter(Boolean).join(" · ");
  document.getElementById("who-text").textContent = label;
  document.getElementById("signout").hidden = session.authMode === "noauth";
}

function markNav(name) {
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function route() {
  const r = parseRoute();
  if (session.authMode !== "noauth" && !session.caller && r.name !== "signin") {
    afterSignIn = location.hash || "#/";
    location.replace("#/signin");
    return;
  }
  if (r.name === "signin" && session.caller) { location.replace("#/"); return; }
  if (view && view.name === r.name && view.update && (r.name !== "image" || view.id === r.id)) {
    view.update(r);
    return;
  }
  if (view && view.cleanup) view.cleanup();
  main.replaceChildren();
  markNav(r.name);
  if (r.name === "signin") view = signInView(main);
  else if (r.name === "image") view = imageView(main, r, app);
  else if (r.name === "upload") view = uploadView(main, r, app);
  else view = listView(main, r, app);
  const heading = main.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    document.title = `${heading.textContent} · glance console`;
    // after a move within the console, keyboard and screen reader users start at the title
    if (routed && r.name !== "signin") heading.focus({ preventScroll: true });
  }
  routed = true;
}

// -- sign-in ----------------------------------------------------------------------------------

function field(label, attrs) {
  const id = `f-${attrs.id}`;
  return h("div", { class: "field" }, h("label", { for: id }, label),
           h("input", { ...attrs, id }));
}

function signInView(root) {
  const keystone = session.authMode === "keystone";
  const error = h("div", { class: "form-error", role: "alert" });
  // inputs carry no name: even a form submitted without the script sends nothing
  const form = h("form", { class: "card signin", method: "post", novalidate: true },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, keystone
      ? "This glance server checks who you are with Keystone."
      : "This glance server asks for a token (an operator makes one with glance token-add)."),
    signInNotice ? h("p", { class: "notice" }, signInNotice) : null,
    keystone ? [
      field("User name", { id: "user", autocomplete: "username", required: true }),
      field("Password", { id: "password", type: "password", autocomplete: "current-password",
                          required: true }),
      field("Project", { id: "project", autocomplete: "off", required: true }),
      h("details", {}, h("summary", {}, "Domains"),
        field("User domain", { id: "user-domain", value: "Default" }),
        field("Project domain", { id: "project-domain", value: "Default" })),
    ] : field("Token", { id: "token", type: "password", autocomplete: "off", required: true,
                         spellcheck: "false" }),
    error,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign in")));
  signInNotice = "";

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const value = (id) => form.querySelector(`#f-${id}`).value;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      if (keystone) {
        if (!value("user") || !value("password") || !value("project")) {
          throw new Error("Give your user name, password and project.");
        }
        const answer = await consoleApi.keystoneToken({
          username: value("user"), password: value("password"), project: value("project"),
          user_domain: value("user-domain") || "Default",
          project_domain: value("project-domain") || "Default" });
        session.token = answer.token;
        session.names = { user: answer.user, project: answer.project };
      } else {
        const token = value("token").trim();
        if (!token) throw new Error("Paste your token.");
        session.token = token;
      }
      const s = await consoleApi.session();
      if (!s.caller) throw new Error("The server did not accept the token.");
      session.caller = s.caller;
      showHeader();
      const target = afterSignIn && !afterSignIn.startsWith("#/signin") ? afterSignIn : "#/";
      afterSignIn = "#/";
      location.replace(target);
    } catch (err) {
      session.token = null;
      error.textContent = err.status === 401 && !keystone
        ? "This token is not valid." : err.message;
    } finally {
      button.disabled = false;
    }
  });
  root.append(form);
  queueMicrotask(() => form.querySelector("input").focus());
  return { name: "signin" };
}

function signOut() {
  session.token = null;
  session.caller = null;
  app.storesPromise = null;
  showHeader();
  afterSignIn = "#/";
  location.hash = "#/signin";
}

// -- start ------------------------------------------------------------------------------------

async function loadSession() {
  try {
    const s = await consoleApi.session();
    session.authMode = s.auth_mode;
    session.caller = s.caller;
  } catch (err) {
    if (err.status !== 401) throw err;
    session.token = null;  // the token expired or was revoked
    signInNotice = "Your session has ended; sign in again.";
    const s = await consoleApi.session();
    session.authMode = s.auth_mode;
    session.caller = null;
  }
}

async function start() {
  window.addEventListener("glance:unauthenticated", () => {
    if (session.authMode === "noauth") return;
    session.token = null;
    session.caller = null;
    showHeader();
    signInNotice = "Your session has ended; sign in again.";
    afterSignIn = location.hash || "#/";
    location.replace("#/signin");
  });
  document.getElementById("signout").addEventListener("click", signOut);
  try {
    await loadSession();
  } catch (err) {
    main.replaceChildren(h("h1", {}, "glance console"),
                         errorBox(err, () => location.reload()));
    return;
  }
  showHeader();
  window.addEventListener("hashchange", route);
  route();
}

start();
