// Confirm a membership renewal the bank wants authenticated (3-D Secure):
// POST settleUrl -> the PaymentIntent's client secret -> stripe.confirmCardPayment
// -> ask again (Patronage.settle), then back to the account page.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("confirm-data").textContent);
  const form = document.getElementById("confirm-form");
  const button = document.getElementById("confirm-button");
  const stripe = Stripe(data.publishableKey);
  const ui = Patronage.formUi(form);

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    ui.clearErrors();
    button.disabled = true;
    try {
      const done = await Patronage.settle(ui, stripe, data.settleUrl, {});
      if (done) window.location.assign(data.doneUrl);
    } catch (err) {
      ui.showError("__all__", "We could not reach the payment service. Please try again.");
    } finally {
      button.disabled = false;
    }
  });
})();
