/*
 * vpos: small progressive enhancements. Loaded with <script defer>; no
 * inline scripts anywhere (Content-Security-Policy friendly).
 *
 *  <form data-confirm="Really delete?">            confirm before submitting
 *  <button type="submit" data-confirm="Sure?">     confirm for this button only
 *  <button type="button" data-copy="text">         copy the text
 *  <button type="button" data-copy-target="#id">   copy #id's value / text
 *     optional data-copied-label="Copied!" (shown for 2 s)
 *  <select data-autosubmit>                        submit its form on change
 *  <main data-brand-color="#0d6efd">               the shop's colour as --vpos-brand
 */
(function () {
  "use strict";

  // -- confirm dialogs --------------------------------------------------
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement)) return;
      var submitter = event.submitter;
      var message =
        (submitter && submitter.getAttribute("data-confirm")) ||
        form.getAttribute("data-confirm");
      if (message && !window.confirm(message)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true
  );

  // -- copy to clipboard --------------------------------------------------
  function textToCopy(button) {
    if (button.hasAttribute("data-copy") && button.getAttribute("data-copy") !== "") {
      return button.getAttribute("data-copy");
    }
    var selector = button.getAttribute("data-copy-target");
    if (!selector) return null;
    var target = document.querySelector(selector);
    if (!target) return null;
    if ("value" in target && typeof target.value === "string") return target.value;
    return target.textContent.trim();
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "position-fixed top-0 start-0 opacity-0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function announce(button, label) {
    var live = document.getElementById("vpos-live");
    if (live) {
      live.textContent = "";
      window.setTimeout(function () {
        live.textContent = label;
      }, 50);
    }
    if (button.dataset.vposCopyBusy) return;
    button.dataset.vposCopyBusy = "1";
    var original = button.innerHTML;
    button.textContent = label;
    window.setTimeout(function () {
      button.innerHTML = original;
      delete button.dataset.vposCopyBusy;
    }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy], [data-copy-target]");
    if (!button) return;
    var text = textToCopy(button);
    if (text === null) return;
    event.preventDefault();
    var copy =
      navigator.clipboard && window.isSecureContext
        ? navigator.clipboard.writeText(text)
        : fallbackCopy(text);
    copy.then(
      function () {
        announce(button, button.getAttribute("data-copied-label") || "Copied");
      },
      function () {
        announce(button, button.getAttribute("data-copy-failed-label") || "Copy failed");
      }
    );
  });

  // -- auto-submit selects ----------------------------------------------------
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) {
      if (typeof el.form.requestSubmit === "function") el.form.requestSubmit();
      else el.form.submit();
    }
  });

  // -- native share sheet and print -------------------------------------------
  // <button data-share-text="..." data-share-url="..." hidden> shows itself where the browser
  // can share (phones); <button data-print> prints the page.
  document.querySelectorAll("[data-share-text]").forEach(function (button) {
    if (typeof navigator.share === "function") button.hidden = false;
  });
  document.addEventListener("click", function (event) {
    var share = event.target.closest("[data-share-text]");
    if (share && typeof navigator.share === "function") {
      event.preventDefault();
      navigator
        .share({
          title: share.getAttribute("data-share-title") || document.title,
          text: share.getAttribute("data-share-text"),
          url: share.getAttribute("data-share-url") || undefined,
        })
        .catch(function () {});
      return;
    }
    if (event.target.closest("[data-print]")) {
      event.preventDefault();
      window.print();
    }
  });

  // -- a shop's colour (set through CSSOM: the Content-Security-Policy forbids style="") ----
  document.querySelectorAll("[data-brand-color]").forEach(function (el) {
    var colour = el.getAttribute("data-brand-color") || "";
    if (/^#(?:[0-9a-fA-F]{3}){1,2}$/.test(colour)) el.style.setProperty("--vpos-brand", colour);
  });
})();
