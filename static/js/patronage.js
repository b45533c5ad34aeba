// What the payment pages share: one card flow (cardForm) that every page runs (give,
// gift membership, join, card update, confirming a renewal), and its helpers.
window.Patronage = (function () {
  "use strict";

  function formatMinor(minor, decimals) {
    return (minor / Math.pow(10, decimals)).toFixed(decimals);
  }

  // The data a page hands its script: {{ page_data|json_script:id }}.
  function pageData(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  // Error display and JSON posting for one form with data-error-for slots.
  function formUi(form) {
    function showError(field, message) {
      const el = form.querySelector('[data-error-for="' + field + '"]') ||
        form.querySelector('[data-error-for="__all__"]');
      el.textContent = message; // textContent: never interpreted as HTML
    }

    function clearErrors() {
      form.querySelectorAll("[data-error-for]").forEach(function (el) { el.textContent = ""; });
    }

    async function post(url, body) {
      const response = await fetch(url, {
        method: "POST",
        headers: {"X-CSRFToken": form.elements.csrfmiddlewaretoken.value},
        body: body,
        credentials: "same-origin",
      });
      const payload = await response.json().catch(function () { return {}; });
      return {ok: response.ok, payload: payload};
    }

    // POST the form itself; show its field errors, or return the server's answer.
    async function start(url) {
      const result = await post(url, new FormData(form));
      if (!result.ok) {
        const errors = result.payload.errors || {};
        Object.keys(errors).forEach(function (f) { showError(f, errors[f].join(" ")); });
        if (result.payload.error) showError("__all__", result.payload.error);
        return null;
      }
      return result.payload;
    }

    return {showError: showError, clearErrors: clearErrors, post: post, start: start};
  }

  // POST `url` until the payment is settled, running 3-D Secure in Stripe.js when the
  // bank asks. Returns the server's answer once it went through, else null with the
  // error shown; after a declined card, payment.setupClientSecret is the one for the
  // next card (null: start again).
  async function settle(ui, stripe, url, payment) {
    for (let round = 0; round < 3; round++) {
      const result = await ui.post(url, new FormData());
      const p = result.payload;
      if (!result.ok) { ui.showError("__all__", p.error || "Something went wrong."); return null; }
      if (p.status === "succeeded" || p.status === "processing") return p;
      if (p.status === "failed") {
        payment.setupClientSecret = p.setupClientSecret || null;
        ui.showError("card", p.error || "Your card was declined.");
        return null;
      }
      if (p.status === "requires_action") {
        const action = await stripe.confirmCardPayment(p.clientSecret);
        if (action.error) ui.showError("card", action.error.message);
        // Either way, ask our server where the payment stands now.
      }
    }
    return null;
  }

  // The card form of a payment page, confirmed with Stripe.js once per SetupIntent.
  // Stripe refuses to confirm a SetupIntent that already succeeded, so a form sent
  // again after a server or network error goes straight on to our server; a new
  // SetupIntent (after a declined card) is confirmed with the card as it is then.
  // `onCardChanged(secret)` runs when the reader edits the card confirmed for `secret`.
  function cardSetup(stripe, card, onCardChanged) {
    let confirmed = null; // the SetupIntent secret Stripe.js confirmed last

    card.on("change", function () { if (confirmed) onCardChanged(confirmed); });

    // Returns true once the card is set up for `secret`, else shows why and returns false.
    async function confirm(ui, secret, paymentMethod) {
      if (secret === confirmed) return true;
      const setup = await stripe.confirmCardSetup(secret, {payment_method: paymentMethod});
      if (setup.error) { ui.showError("card", setup.error.message); return false; }
      confirmed = secret;
      return true;
    }

    return {confirm: confirm};
  }

  // The card flow of a payment page, run when `options.form` is sent:
  // 1. POST the form to options.start -> our record and a SetupIntent secret (no start:
  //    straight on to 3, as for a renewal waiting for the bank's check).
  // 2. If the form has a #card-element (partials/card_fieldset.html): confirmCardSetup
  //    with the card, 3-D Secure if the bank asks, once per SetupIntent (see cardSetup).
  // 3. POST options.settle until the payment went through (see settle), then go to options.done.
  // settle and done are URLs, or functions of the start's answer (done: and of settle's).
  // options.billingDetails() goes with the card; options.unreachable is the message when
  // the network fails. One submit at a time. Editing any other field starts anew, and so
  // does editing the card once confirmed. Returns {reset}, for changes made by script.
  function cardForm(options) {
    const form = options.form;
    const button = form.querySelector('button[type="submit"]');
    const ui = formUi(form);
    const stripe = Stripe(options.data.publishableKey);
    const cardBox = form.querySelector("#card-element");
    const card = cardBox ? stripe.elements().create("card") : null;
    if (card) card.mount(cardBox);
    let started = null; // the start's answer, until something asks for a new start
    let busy = false;
    const setups = card && cardSetup(stripe, card, function (secret) {
      if (started && started.setupClientSecret === secret) started = null; // a new card
    });

    function url(option, run, answer) {
      return typeof option === "function" ? option(run, answer) : option;
    }

    async function pay() {
      if (!started) started = options.start ? await ui.start(options.start) : {};
      const run = started; // this submit's start, whatever the reader edits meanwhile
      if (!run) return;
      if (card) {
        const method = {card: card};
        if (options.billingDetails) method.billing_details = options.billingDetails();
        if (!(await setups.confirm(ui, run.setupClientSecret, method))) return;
      }
      const done = await settle(ui, stripe, url(options.settle, run), run);
      if (done) window.location.assign(url(options.done, run, done));
      else if (!run.setupClientSecret && started === run) started = null; // start anew
    }

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (busy) return;
      busy = true;
      button.disabled = true;
      ui.clearErrors();
      try {
        await pay();
      } catch (err) {
        ui.showError("__all__", options.unreachable ||
          "We could not reach the payment service. You have not been charged.");
      } finally {
        busy = false;
        button.disabled = false;
      }
    });

    function detailsChanged(event) {
      if (!(cardBox && cardBox.contains(event.target))) started = null;
    }
    form.addEventListener("input", detailsChanged);
    form.addEventListener("change", detailsChanged);
    return {reset: function () { started = null; }};
  }

  // cardForm for a payment made once (give, gift membership): the start answers where to
  // pay (payUrl) and where to thank (thanksUrl); the card goes with the giver's email and name.
  function payOnce(form, data) {
    return cardForm({
      form: form,
      data: data,
      start: data.startUrl,
      settle: function (started) { return started.payUrl; },
      done: function (started) { return started.thanksUrl; },
      billingDetails: function () {
        return {email: form.elements.email.value, name: form.elements.name.value};
      },
    });
  }

  return {
    formatMinor: formatMinor, pageData: pageData, formUi: formUi, settle: settle,
    cardSetup: cardSetup, cardForm: cardForm, payOnce: payOnce,
  };
})();
