// The console's only script: the passkey ceremonies (enrol, log in, sign a decision).
// Everything else works without it. Served from the console's own origin; no inline script.
"use strict";

const CSRF = document.querySelector('meta[name="csrf-token"]').content;

// The status line sits next to the button that started the ceremony (each page has one).
function say(text, failed) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("error", Boolean(failed));
}

async function post(url, body, type) {
  const response = await fetch(url, {
    method: "POST",
    body: body,
    headers: {"Content-Type": type, "X-CSRF-Token": CSRF},
    credentials: "same-origin",
  });
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  if (!response.ok) throw new Error(data.error || (url + ": HTTP " + response.status));
  return data;
}

const postJSON = (url, value) => post(url, JSON.stringify(value), "application/json");

async function create(url) {
  const options = await postJSON(url + "/options", {});
  const credential = await navigator.credentials.create(
    {publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options)});
  return postJSON(url + "/verify", credential.toJSON());
}

async function get(optionsPromise, verifyUrl) {
  const options = await optionsPromise;
  const credential = await navigator.credentials.get(
    {publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options)});
  return postJSON(verifyUrl, credential.toJSON());
}

async function run(button, work) {
  button.disabled = true;
  say("Waiting for your passkey…");
  try {
    const done = await work();
    location.assign(done.redirect);
  } catch (e) {
    say("Failed: " + e.message, true);
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const login = document.getElementById("login");
  if (login) {
    login.addEventListener("click", () =>
      run(login, () => get(postJSON("/login/options", {}), "/login/verify")));
  }
  const enrol = document.getElementById("enrol");
  if (enrol) {
    const url = "/enrol/" + encodeURIComponent(enrol.dataset.token);
    enrol.addEventListener("click", () => run(enrol, () => create(url)));
  }
  for (const form of document.querySelectorAll("form.decision")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const base = "/changes/" + encodeURIComponent(form.dataset.change) + "/decide";
      const fields = new URLSearchParams(new FormData(form)).toString();
      const button = form.querySelector("button");
      run(button, () => get(
        post(base + "/options", fields, "application/x-www-form-urlencoded"), base + "/verify"));
    });
  }
});
