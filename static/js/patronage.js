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

  return {formatMinor: formatMinor, formUi: formUi, settle: settle};
})();
