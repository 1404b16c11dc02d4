/*
 * vpos checkout: the browser half of the Stripe adapter. Loaded with <script defer> after
 * Stripe.js; no inline scripts (Content-Security-Policy). Everything it needs comes from
 * data-* attributes on <form id="checkout-form">:
 *
 *   data-stripe-key    publishable key          data-attempt-key  first attempt key
 *   data-card-flow     "element" | "direct" | "setup"
 *   data-setup-url     SetupIntent ("setup" flow)
 *   data-attempt-url   where the payment method is posted
 *   data-amount, data-currency, data-method-types, data-brand-color
 *                      what the Payment Element is told ("element" flow; no method types: every
 *                      method enabled in the shop's Stripe account)
 *   data-lang          the page's language, kept on the pages we go to
 *   data-msg-*         translated progress and error texts
 *
 * "I need an invoice" (#invoice-section, data-check-url): the details are checked by the server
 * before the card is read, and posted with the attempt as invoice-* fields; a wrong one comes back
 * as {code: "invoice_details", fields: {name: [messages]}}, shown beside each field.
 *
 * The card never reaches our server: Stripe.js turns it into a PaymentMethod id ("pm_..."),
 * and only that id (and its type: "card", "paypal"…) is posted. The server charges the link's
 * amount and answers JSON:
 *   {status: "succeeded" | "authorized" | "processing" | "pending", redirect}  the result page
 *   {status: "requires_action", client_secret, complete_url}       3-D Secure or a redirect to the
 *                                                                  bank (back at the return URL),
 *                                                                  then ask again
 *   {status: "failed", message, attempt_key}                       declined: try another card
 *   {status: "error", code, message} with HTTP 4xx/5xx             show it (410: reload)
 *
 * On every page (also the closed and result pages) it applies the shop's colour from
 * <body data-brand-color> as soon as it runs; it is loaded before Stripe.js for that reason.
 */
(function () {
  "use strict";

  // -- the shop's colour --------------------------------------------------------------------
  var brand = document.body.getAttribute("data-brand-color") || "";
  if (/^#(?:[0-9a-fA-F]{3}){1,2}$/.test(brand)) {
    document.body.style.setProperty("--vpos-brand", brand);
  }

  var form = document.getElementById("checkout-form");
  if (!form) return;

  /*
   * CARD_FLOWS: how what the customer entered becomes a PaymentMethod id. The only place where
   * the backends differ; each returns a Promise of {paymentMethod: "pm_...", method: type} or
   * {error: {...}}.
   *
   * - "element" (real Stripe, customer checkout): the Payment Element, in deferred-intent mode,
   *   offers every method the shop enabled (wallets, SEPA, PayPal…); elements.submit() checks
   *   the form, stripe.createPaymentMethod({elements}) makes the PaymentMethod.
   * - "direct" (real Stripe, the shop's virtual terminal): a card element,
   *   stripe.createPaymentMethod.
   * - "setup" (localstripe, offline test mode): its Stripe.js has no working
   *   createPaymentMethod, so the server creates a SetupIntent and confirmCardSetup turns the
   *   card into a PaymentMethod (it may show its own 3-D Secure pop-up for 3DS test cards).
   *
   * 3-D Secure on the payment: stripe.confirmCardPayment(clientSecret) with no second argument
   * for cards, stripe.handleNextAction({clientSecret}) for the Payment Element (it may instead
   * redirect to the bank, which brings the customer back to the server's return URL); after
   * either the server asks Stripe for the outcome.
   */
  var CARD_FLOWS = {
    element: function (ctx) {
      return ctx.elements.submit().then(function (submitted) {
        if (submitted && submitted.error) return { error: stripeError(submitted.error) };
        return ctx.stripe
          .createPaymentMethod({ elements: ctx.elements, params: { billing_details: ctx.billing } })
          .then(function (result) {
            if (!result || result.error) return { error: stripeError(result && result.error) };
            return { paymentMethod: result.paymentMethod.id, method: result.paymentMethod.type };
          });
      });
    },
    direct: function (ctx) {
      return ctx.stripe
        .createPaymentMethod({ type: "card", card: ctx.card, billing_details: ctx.billing })
        .then(function (result) {
          if (!result || result.error) return { error: stripeError(result && result.error) };
          return { paymentMethod: result.paymentMethod.id };
        });
    },
    setup: function (ctx) {
      if (ctx.sepa) return SEPA_SETUP(ctx);
      return postForm(ctx.setupUrl, { method: "card" }).then(function (answer) {
        if (!answer.ok || !answer.body.client_secret) return { error: answer.body, http: answer.status };
        return ctx.stripe
          .confirmCardSetup(answer.body.client_secret, {
            payment_method: { card: ctx.card, billing_details: ctx.billing },
          })
          .then(function (result) {
            if (!result || result.error || !result.setupIntent) {
              return { error: stripeError(result && result.error) };
            }
            return { paymentMethod: result.setupIntent.payment_method };
          });
      });
    },
  };

  /*
   * A SEPA debit, offline: the page has its own IBAN field (localstripe has no IBAN Element). The
   * IBAN goes to Stripe.js only, never to our server: the server makes a SetupIntent for a
   * sepa_debit method, confirmSepaDebitSetup attaches the account to it, and only the resulting
   * PaymentMethod id is posted. Name and email are required by the SEPA scheme, and so is the
   * customer's acceptance of the mandate shown above the button.
   */
  function SEPA_SETUP(ctx) {
    var problem = sepaProblem(ctx);
    if (problem) return Promise.resolve({ error: { message: problem } });
    return postForm(ctx.setupUrl, { method: "sepa_debit" }).then(function (answer) {
      if (!answer.ok || !answer.body.client_secret) return { error: answer.body, http: answer.status };
      return ctx.stripe
        .confirmSepaDebitSetup(answer.body.client_secret, {
          payment_method: { sepa_debit: { iban: ctx.iban }, billing_details: ctx.billing },
        })
        .then(function (result) {
          if (!result || result.error || !result.setupIntent) {
            return { error: stripeError(result && result.error) };
          }
          return { paymentMethod: result.setupIntent.payment_method, method: "sepa_debit" };
        });
    });
  }

  // What is missing before a SEPA debit can be asked for, in the page's language ("" if nothing).
  function sepaProblem(ctx) {
    if (!ctx.billing.name) return message("sepaName");
    if (!ctx.billing.email) return message("sepaEmail");
    if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$/.test(ctx.iban)) return message("sepaIban");
    if (!ctx.accepted) return message("sepaAccept");
    return "";
  }

  var data = form.dataset;
  var button = document.getElementById("pay-button");
  var errorBox = document.getElementById("checkout-error");
  var progress = document.getElementById("checkout-progress");
  var cardErrors = document.getElementById("card-errors");
  var cardMount = document.getElementById("card-element");
  var emailInput = document.getElementById("checkout-email");
  var nameInput = document.getElementById("checkout-name");
  // Present on a link sent by email: who it was sent to, signed by the server.
  var recipientInput = document.getElementById("checkout-recipient");
  // Offline, a SEPA debit beside the card: the choice, the IBAN (never posted to us), the mandate.
  var ibanInput = document.getElementById("sepa-iban");
  var mandateBox = document.getElementById("sepa-accept");

  // "I need an invoice": the checkbox, the fields, the kind of customer (business or person).
  var invoiceSection = document.getElementById("invoice-section");
  var invoiceBox = document.getElementById("invoice-requested");
  var invoiceFields = document.getElementById("invoice-fields");

  function invoiceRequested() {
    return !!(invoiceBox && invoiceBox.checked);
  }

  function showInvoice() {
    if (!invoiceBox) return;
    invoiceFields.hidden = !invoiceBox.checked;
    var kind = form.querySelector("input[name='invoice-kind']:checked");
    var chosen = kind ? kind.value : "business";
    Array.prototype.forEach.call(invoiceFields.querySelectorAll("[data-invoice-for]"), function (part) {
      part.hidden = part.getAttribute("data-invoice-for") !== chosen;
    });
  }
  if (invoiceBox) {
    invoiceBox.addEventListener("change", showInvoice);
    Array.prototype.forEach.call(form.querySelectorAll("input[name='invoice-kind']"), function (radio) {
      radio.addEventListener("change", showInvoice);
    });
    showInvoice();
  }

  // The invoice fields to post: none unless the customer asked for an invoice.
  function invoiceData() {
    var fields = {};
    if (!invoiceRequested()) return fields;
    fields["invoice-requested"] = "on";
    Array.prototype.forEach.call(invoiceFields.querySelectorAll("input, select"), function (input) {
      if (!input.name || input.name.indexOf("invoice-") !== 0) return;
      if (input.type === "radio" && !input.checked) return;
      fields[input.name] = input.value.trim();
    });
    return fields;
  }

  function clearInvoiceErrors() {
    if (!invoiceFields) return;
    Array.prototype.forEach.call(invoiceFields.querySelectorAll(".vpos-invoice-error"), function (box) {
      box.remove();
    });
    Array.prototype.forEach.call(invoiceFields.querySelectorAll("[aria-invalid]"), function (input) {
      input.removeAttribute("aria-invalid");
      input.classList.remove("is-invalid");
    });
  }

  // Each message beside its field, announced, the field marked invalid; the first one focused.
  function showInvoiceErrors(fields) {
    clearInvoiceErrors();
    var first = null;
    Object.keys(fields || {}).forEach(function (name) {
      var input = invoiceFields.querySelector("[name='invoice-" + name + "']");
      if (!input) return;
      var box = document.createElement("div");
      box.className = "invalid-feedback d-block vpos-invoice-error";
      box.id = "invoice-" + name + "-error";
      box.textContent = fields[name].join(" ");
      // After the field itself; for the radio buttons, after their group.
      var anchor = input.type === "radio" ? input.closest("fieldset") : input;
      anchor.parentNode.insertBefore(box, anchor.nextSibling);
      input.setAttribute("aria-invalid", "true");
      input.classList.add("is-invalid");
      var described = (input.getAttribute("aria-describedby") || "").replace(box.id, "").trim();
      input.setAttribute("aria-describedby", (described + " " + box.id).trim());
      if (!first) first = input;
    });
    if (first) first.focus();
  }

  // Resolves true when the payment may go on: no invoice asked for, or details the server took.
  function checkInvoice() {
    clearInvoiceErrors();
    if (!invoiceRequested()) return Promise.resolve(true);
    return postForm(invoiceSection.getAttribute("data-check-url"), invoiceData()).then(function (answer) {
      if (answer.ok) return true;
      handleAnswer(answer, false);
      return false;
    });
  }

  function chosenMethod() {
    var checked = form.querySelector("input[name=method]:checked");
    return checked ? checked.value : "card";
  }

  // Show the fields of the chosen method only.
  function showMethod() {
    var sepa = chosenMethod() === "sepa_debit";
    var cardFields = document.getElementById("card-fields");
    var sepaFields = document.getElementById("sepa-fields");
    if (cardFields) cardFields.hidden = sepa;
    if (sepaFields) sepaFields.hidden = !sepa;
    // A debit needs the account holder's name and an email: no longer optional.
    Array.prototype.forEach.call(form.querySelectorAll(".vpos-optional"), function (hint) {
      hint.hidden = sepa;
    });
    emailInput.required = sepa;
    nameInput.required = sepa;
    clearError();
  }
  Array.prototype.forEach.call(form.querySelectorAll("input[name=method]"), function (radio) {
    radio.addEventListener("change", showMethod);
  });

  var flowName = CARD_FLOWS[data.cardFlow] ? data.cardFlow : "direct";
  var flow = CARD_FLOWS[flowName];
  // A fresh key per page view, made here so the page's HTML is the same for every visitor.
  var attemptKey = data.attemptKey || newAttemptKey();
  var busy = false;
  var stripe;
  var elements;
  var card;

  function message(name) {
    return data["msg" + name.charAt(0).toUpperCase() + name.slice(1)] || data.msgGeneric || "";
  }

  // Stripe reports errors as plain objects with a message; anything else (a TypeError from an
  // empty card form, a network failure) gets our generic text.
  function stripeError(error) {
    if (error && !(error instanceof Error) && typeof error.message === "string" && error.message) {
      return { message: error.message };
    }
    return { message: message("generic") };
  }

  function newAttemptKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  function csrfToken() {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (input && input.value) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // POST form-encoded; resolves to {ok, status, body} with a JSON body, always.
  function postForm(url, fields) {
    return window
      .fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          Accept: "application/json",
          "Content-Type": "application/x-www-form-urlencoded",
          "X-CSRFToken": csrfToken(),
        },
        body: new URLSearchParams(fields).toString(),
      })
      .then(
        function (response) {
          return response.json().then(
            function (body) {
              return { ok: response.ok, status: response.status, body: body || {} };
            },
            function () {
              return {
                ok: false,
                status: response.status,
                body: { status: "error", code: "bad_response", message: message("generic") },
              };
            }
          );
        },
        function () {
          return { ok: false, status: 0, body: { status: "error", code: "network", message: message("network") } };
        }
      );
  }

  function withLang(url) {
    if (!data.lang) return url;
    return url + (url.indexOf("?") === -1 ? "?" : "&") + "lang=" + encodeURIComponent(data.lang);
  }

  // -- what the customer sees ----------------------------------------------------------------
  function setBusy(isBusy, text) {
    busy = isBusy;
    button.disabled = isBusy;
    form.setAttribute("aria-busy", isBusy ? "true" : "false");
    progress.textContent = text || "";
  }

  function showError(text) {
    setBusy(false);
    errorBox.textContent = text || message("generic");
    errorBox.focus({ preventScroll: true });
    errorBox.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  function clearError() {
    errorBox.textContent = "";
  }

  function clearCard() {
    if (typeof card.clear === "function") {
      card.clear();
      return;
    }
    // localstripe's element has no clear(): mount it afresh.
    card.unmount();
    card.mount(cardMount);
    card.value = undefined;
  }

  function go(url) {
    setBusy(true, message("redirecting"));
    window.location.assign(withLang(url));
  }

  // -- the payment ---------------------------------------------------------------------------
  // Error codes after which the card may have been charged (vpos/middleware.py, links/services.py).
  var UNKNOWN_OUTCOME = ["confirm_unknown", "outcome_pending", "bad_response"];

  function handleAnswer(answer, afterAuthentication) {
    var body = answer.body || {};
    switch (body.status) {
      case "succeeded":
      case "authorized":
      case "processing":
      case "pending":
        if (body.redirect) return go(body.redirect);
        break;
      case "requires_action":
        if (afterAuthentication || !body.client_secret) {
          // Still waiting after the pop-up closed: the customer can start again.
          attemptKey = newAttemptKey();
          return showError(message("authIncomplete"));
        }
        progress.textContent = message("authenticating");
        var action =
          flowName === "element"
            ? stripe.handleNextAction({ clientSecret: body.client_secret })
            : stripe.confirmCardPayment(body.client_secret);
        return action.then(
          function () {
            // Whatever the pop-up said, the server asks Stripe for the truth.
            progress.textContent = message("checking");
            return postForm(body.complete_url, {}).then(function (next) {
              return handleAnswer(next, true);
            });
          },
          function () {
            return postForm(body.complete_url, {}).then(function (next) {
              return handleAnswer(next, true);
            });
          }
        );
      case "failed":
        attemptKey = body.attempt_key || newAttemptKey();
        clearCard();
        return showError(body.message);
      default:
        break;
    }
    if (body.code === "invoice_details") {
      attemptKey = newAttemptKey();  // nothing was reserved nor charged
      showError(body.message || message("invoice"));
      showInvoiceErrors(body.fields);
      return;
    }
    if (answer.status === 410) {
      setBusy(true, message("closed"));
      errorBox.textContent = body.message || message("closed");
      window.setTimeout(function () {
        window.location.reload();
      }, 1500);
      return;
    }
    // When the outcome of a payment is unknown (confirmation or 3-D Secure check failed, the
    // charge was made but not recorded yet, the answer was lost or is not ours, e.g. a proxy's
    // 502), keep the key: trying again answers with that same payment instead of charging a
    // second time.
    var unknown =
      UNKNOWN_OUTCOME.indexOf(body.code) !== -1 || answer.status === 0 || afterAuthentication;
    if (!unknown) attemptKey = newAttemptKey();
    return showError(body.message);
  }

  function pay() {
    if (busy) return;
    clearError();
    setBusy(true, message("preparing"));
    var billing = {};
    var email = emailInput.value.trim();
    var name = nameInput.value.trim();
    if (email) billing.email = email;
    if (name) billing.name = name;
    var ctx = {
      stripe: stripe,
      elements: elements,
      card: card,
      billing: billing,
      setupUrl: data.setupUrl,
      sepa: chosenMethod() === "sepa_debit",
      iban: ibanInput ? ibanInput.value.replace(/\s+/g, "").toUpperCase() : "",
      accepted: mandateBox ? mandateBox.checked : false,
    };

    checkInvoice()
      .then(function (invoiceOk) {
        if (!invoiceOk) return;
        return flow(ctx).then(charge);
      })
      .catch(function () {
        showError(message("generic"));
      });

    function charge(tokenized) {
      if (tokenized.error) {
        if (tokenized.http === 410) return handleAnswer({ status: 410, body: tokenized.error });
        return showError(tokenized.error.message);
      }
      progress.textContent = message("paying");
      var fields = invoiceData();
      fields.payment_method = tokenized.paymentMethod;
      fields.method = tokenized.method || "card";
      fields.attempt_key = attemptKey;
      fields.email = email;
      fields.name = name;
      fields.recipient = recipientInput ? recipientInput.value : "";
      return postForm(data.attemptUrl, fields).then(function (answer) {
        return handleAnswer(answer, false);
      });
    }
  }

  // The Payment Element before there is a PaymentIntent: the link's amount, in the shop's
  // colour and the page's language, narrowed to the link's methods if it has any.
  function elementsOptions() {
    var options = {
      mode: "payment",
      amount: parseInt(data.amount, 10),
      currency: (data.currency || "").toLowerCase(),
      paymentMethodCreation: "manual",
      locale: data.lang || "auto",
      appearance: { theme: "stripe", variables: {} },
    };
    if (data.methodTypes) options.paymentMethodTypes = data.methodTypes.split(",");
    if (/^#(?:[0-9a-fA-F]{3}){1,2}$/.test(data.brandColor || "")) {
      options.appearance.variables.colorPrimary = data.brandColor;
    }
    return options;
  }

  // -- start ---------------------------------------------------------------------------------
  // Stripe.js is loaded (deferred) after this file: it has run by DOMContentLoaded.
  function start() {
    if (typeof window.Stripe !== "function" || !data.stripeKey) {
      showError(message("unavailable"));
      button.disabled = true;
      return;
    }
    // Stripe's own messages ("Your card was declined.") in the page's language.
    stripe = window.Stripe(data.stripeKey, { locale: data.lang || "auto" });
    if (flowName === "element") {
      elements = stripe.elements(elementsOptions());
      card = elements.create("payment");
    } else {
      card = stripe.elements().create("card");
    }
    card.mount(cardMount);
    card.on("change", function (event) {
      // Stripe passes {error, complete, empty}; localstripe passes nothing.
      cardErrors.textContent = event && event.error ? event.error.message : "";
    });
    if (form.querySelector("input[name=method]")) showMethod();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      pay();
    });
    button.disabled = false;
  }

  if (document.readyState === "complete") {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
