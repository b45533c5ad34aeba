// "Support us just once": card entry with Stripe.js.
// 1. POST the form to startUrl -> our gift + a SetupIntent secret.
// 2. stripe.confirmCardSetup(secret, card) -> the card is checked (3-D Secure if asked).
// 3. POST payUrl -> we charge it; if the bank wants 3-D Secure, confirmCardPayment, then ask again.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("give-data").textContent);
  const form = document.getElementById("give-form");
  const button = document.getElementById("give-button");
  const amountInput = form.elements.amount;
  const currencySelect = form.elements.currency;
  const suggestionsBox = document.getElementById("suggestions");
  const stripe = Stripe(data.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");

  let gift = null; // {payUrl, thanksUrl, setupClientSecret} once started

  const ui = Patronage.formUi(form);

  function showSuggestions() {
    const code = currencySelect.value;
    suggestionsBox.textContent = "";
    (data.suggestions[code] || []).forEach(function (s) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary small";
      b.textContent = s.label;
      b.addEventListener("click", function () {
        amountInput.value = Patronage.formatMinor(s.amount, data.currencies[code].decimals);
        gift = null;
      });
      suggestionsBox.appendChild(b);
      if (s.default && !amountInput.value) {
        amountInput.value = Patronage.formatMinor(s.amount, data.currencies[code].decimals);
      }
    });
  }

  async function pay() {
    const paid = await Patronage.settle(ui, stripe, gift.payUrl, gift);
    if (paid) window.location.assign(paid.thanksUrl);
    else if (!gift.setupClientSecret) gift = null;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    ui.clearErrors();
    button.disabled = true;
    try {
      if (!gift) gift = await ui.start(data.startUrl);
      if (!gift) return;
      const setup = await stripe.confirmCardSetup(gift.setupClientSecret, {
        payment_method: {
          card: card,
          billing_details: {email: form.elements.email.value, name: form.elements.name.value},
        },
      });
      if (setup.error) { ui.showError("card", setup.error.message); return; }
      await pay();
    } catch (err) {
      ui.showError("__all__", "We could not reach the payment service. You have not been charged.");
    } finally {
      button.disabled = false;
    }
  });

  // Any change to the gift's details means a new gift (typing a card does not).
  function detailsChanged(event) {
    if (!event.target.closest("#card-element")) gift = null;
  }
  form.addEventListener("input", detailsChanged);
  form.addEventListener("change", detailsChanged);
  currencySelect.addEventListener("change", function () { amountInput.value = ""; showSuggestions(); });
  showSuggestions();
})();
