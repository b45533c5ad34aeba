// Small helpers shared by the payment pages (give, join, card update).
window.Patronage = (function () {
  "use strict";

  function formatMinor(minor, decimals) {
    return (minor / Math.pow(10, decimals)).toFixed(decimals);
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

  // A one-time card payment on `form` (the give and gift pages):
  // 1. POST the form to data.startUrl -> our record + a SetupIntent secret.
  // 2. stripe.confirmCardSetup(secret, card) -> the card is checked (3-D Secure if asked),
  //    once: a retry after an error on step 3 goes straight on to it.
  // 3. POST payUrl until settled (see settle), then on to thanksUrl.
  // Changing any detail (the card too, once confirmed) starts a new payment. Returns {reset}.
  function payOnce(form, button, data) {
    const ui = formUi(form);
    const stripe = Stripe(data.publishableKey);
    const card = stripe.elements().create("card");
    card.mount("#card-element");
    let started = null; // {payUrl, thanksUrl, setupClientSecret}
    const setups = cardSetup(stripe, card, function (secret) {
      if (started && started.setupClientSecret === secret) started = null; // a new card: start anew
    });

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      ui.clearErrors();
      button.disabled = true;
      try {
        if (!started) started = await ui.start(data.startUrl);
        if (!started) return;
        const ready = await setups.confirm(ui, started.setupClientSecret, {
          card: card,
          billing_details: {email: form.elements.email.value, name: form.elements.name.value},
        });
        if (!ready) return;
        const paid = await settle(ui, stripe, started.payUrl, started);
        if (paid) window.location.assign(started.thanksUrl);
        else if (!started.setupClientSecret) started = null;
      } catch (err) {
        ui.showError("__all__", "We could not reach the payment service. You have not been charged.");
      } finally {
        button.disabled = false;
      }
    });

    function detailsChanged(event) {
      if (!event.target.closest("#card-element")) started = null;
    }
    form.addEventListener("input", detailsChanged);
    form.addEventListener("change", detailsChanged);
    return {reset: function () { started = null; }};
  }

  return {
    formatMinor: formatMinor, formUi: formUi, settle: settle, cardSetup: cardSetup, payOnce: payOnce,
  };
})();
