// Update the card renewals are charged to: a SetupIntent confirmed with Stripe.js.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("card-data").textContent);
  const form = document.getElementById("card-form");
  const button = document.getElementById("card-button");
  const stripe = Stripe(data.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const ui = Patronage.formUi(form);

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    ui.clearErrors();
    button.disabled = true;
    try {
      const started = await ui.start(data.startUrl);
      if (!started) return;
      const setup = await stripe.confirmCardSetup(started.setupClientSecret, {
        payment_method: {card: card},
      });
      if (setup.error) { ui.showError("card", setup.error.message); return; }
      const finished = await ui.post(data.finishUrl, new FormData());
      if (!finished.ok) { ui.showError("card", finished.payload.error || "Please try again."); return; }
      window.location.assign(data.doneUrl);
    } catch (err) {
      ui.showError("__all__", "We could not reach the payment service. Please try again.");
    } finally {
      button.disabled = false;
    }
  });
})();
