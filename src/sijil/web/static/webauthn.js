// Security keys (WebAuthn) on the sijil desk: the keys page and the second-factor step.
// Served from the app's own origin (the CSP allows no inline script). The server's
// options come as JSON (base64url for the binary parts); the key's answer goes back
// as JSON in a hidden field of an ordinary form, with the form's CSRF token.
// Without this script (or without WebAuthn) the key buttons stay hidden.
"use strict";

(function () {
  function toBytes(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    const binary = atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 1) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function fetchOptions(form) {
    const body = new URLSearchParams({ csrf: form.elements.csrf.value });
    const response = await fetch(form.dataset.options, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) {
      throw new Error("the desk gave no options");
    }
    return response.json();
  }

  function withBytes(options) {
    options.challenge = toBytes(options.challenge);
    if (options.user) {
      options.user.id = toBytes(options.user.id);
    }
    for (const list of [options.excludeCredentials, options.allowCredentials]) {
      for (const item of list || []) {
        item.id = toBytes(item.id);
      }
    }
    return options;
  }

  function answer(credential) {
    const r = credential.response;
    const out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: { clientDataJSON: toText(r.clientDataJSON) },
      clientExtensionResults: credential.getClientExtensionResults(),
    };
    if (credential.authenticatorAttachment) {
      out.authenticatorAttachment = credential.authenticatorAttachment;
    }
    if (r.attestationObject) {
      out.response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) {
        out.response.transports = r.getTransports();
      }
    } else {
      out.response.authenticatorData = toText(r.authenticatorData);
      out.response.signature = toText(r.signature);
      if (r.userHandle) {
        out.response.userHandle = toText(r.userHandle);
      }
    }
    return JSON.stringify(out);
  }

  function say(form, key) {
    const status = form.querySelector(".key-status");
    if (status) {
      status.textContent = form.dataset[key] || "";
    }
  }

  async function ceremony(form, create) {
    say(form, "touch");
    try {
      const options = withBytes(await fetchOptions(form));
      const credential = create
        ? await navigator.credentials.create({ publicKey: options })
        : await navigator.credentials.get({ publicKey: options });
      form.elements.credential.value = answer(credential);
      form.submit();
    } catch (_error) {
      say(form, "failed");
    }
  }

  function ready() {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      return;
    }
    for (const form of document.querySelectorAll("form[data-webauthn]")) {
      const create = form.dataset.webauthn === "create";
      for (const hidden of form.querySelectorAll("[data-needs-script]")) {
        hidden.hidden = false;
      }
      for (const note of form.querySelectorAll("[data-without-script]")) {
        note.hidden = true;
      }
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        ceremony(form, create);
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
