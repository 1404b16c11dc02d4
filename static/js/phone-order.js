/*
 * Phone order screen: asks the server every 2 seconds whether the customer has paid, and says so
 * in the live region (#phone-status) without a reload. Stops when the link is paid or closed.
 */
(function () {
  "use strict";
  var box = document.getElementById("phone-status");
  if (!box || !window.fetch) return;
  var url = box.getAttribute("data-status-url");
  var timer = null;

  function show(text, paid) {
    box.textContent = text;
    box.classList.toggle(box.getAttribute("data-paid-class"), paid);
    box.classList.toggle(box.getAttribute("data-waiting-class"), !paid);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        if (!body) return;
        if (body.paid) {
          show(box.getAttribute("data-msg-paid"), true);
          window.clearInterval(timer);
        } else if (body.status !== "active") {
          show(box.getAttribute("data-msg-closed") + " " + body.label, false);
          window.clearInterval(timer);
        }
      })
      .catch(function () {});
  }

  timer = window.setInterval(poll, 2000);
})();
