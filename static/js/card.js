// Update the card renewals are charged to: a SetupIntent confirmed with Stripe.js.
// 1. POST startUrl -> a SetupIntent secret; stripe.confirmCardSetup(secret, card), once
//    per SetupIntent (sent again after an error on step 2, the form goes on to it).
// 2. POST finishUrl -> the card is saved and a past-due renewal paid with it; if the bank
//    wants 3-D Secure, confirmCardPayment, then ask again (Patronage.settle).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("card-data").textContent);
  const form = document.getElementById("card-form");
  const button = document.getElementById("card-button");
  const stripe = Stripe(data.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const ui = Patronage.formUi(form);

  let started = null; // {setupClientSecret} once a SetupIntent is open for this card
  const setups = Patronage.cardSetup(stripe, card, function (secret) {
    if (started && started.setupClientSecret === secret) started = null; // a new card
  });

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    ui.clearErrors();
    button.disabled = true;
    try {
      if (!started) started = await ui.start(data.startUrl);
      if (!started) return;
      if (!(await setups.confirm(ui, started.setupClientSecret, {card: card}))) return;
      const done = await Patronage.settle(ui, stripe, data.finishUrl, started);
      if (done) window.location.assign(data.doneUrl);
      else if (!started.setupClientSecret) started = null; // declined: the next card starts anew
    } catch (err) {
      ui.showError("__all__", "We could not reach the payment service. Please try again.");
    } finally {
      button.disabled = false;
    }
  });
})();
