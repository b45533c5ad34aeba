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

  return {formatMinor: formatMinor, formUi: formUi};
})();
