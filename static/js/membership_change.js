// The membership change page: as the member types an amount or picks an interval, the
// price sentence ("You'll be charged $110.00 today ...") and the button's words follow,
// from previewUrl. The form posts as usual; quoted_at carries when the price was shown.
(function () {
  "use strict";
  const form = document.getElementById("change-form");
  if (!form) return;
  const data = JSON.parse(document.getElementById("change-data").textContent);
  const sentence = form.querySelector("[data-change-price]");
  const button = form.querySelector("[data-change-button]");
  const quotedAt = form.elements.namedItem("quoted_at");
  let timer = null;
  let asked = 0;

  function show(answer) {
    sentence.textContent = answer.sentence;
    button.textContent = answer.button;
    if (quotedAt) quotedAt.value = answer.prorationDate;
    button.disabled = false;
  }

  function refresh() {
    const amount = form.elements.namedItem("amount").value;
    const interval = form.elements.namedItem("interval").value;
    const query = new URLSearchParams({ amount: amount, interval: interval });
    const mine = ++asked;
    fetch(data.previewUrl + "?" + query.toString(), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (mine !== asked) return; // a newer question is on its way
        if (answer.ok) return show(answer.body);
        const errors = (answer.body.errors && (answer.body.errors.amount || answer.body.errors.interval)) || [];
        const first = errors[0];
        sentence.textContent = first || answer.body.error || "";
        if (quotedAt) quotedAt.value = "";
      })
      .catch(function () {
        if (mine !== asked) return;
        sentence.textContent = "We could not work out the price just now. Please try again in a moment.";
        if (quotedAt) quotedAt.value = "";
      });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  }

  form.elements.namedItem("amount").addEventListener("input", later);
  form.elements.namedItem("interval").addEventListener("change", refresh);
})();
