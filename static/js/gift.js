// "Give a membership": card entry with Stripe.js, as on the give page.
// 1. POST the form to startUrl -> our gift + a SetupIntent secret.
// 2. stripe.confirmCardSetup(secret, card) -> the card is checked (3-D Secure if asked).
// 3. POST payUrl (payments' pay call) -> we charge it; if the bank wants
//    3-D Secure, confirmCardPayment, then ask again.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("gift-data").textContent);
  const form = document.getElementById("gift-form");
  const button = document.getElementById("gift-button");
  const priceNote = document.getElementById("gift-price");
  const stripe = Stripe(data.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const ui = Patronage.formUi(form);

  let gift = null; // {payUrl, thanksUrl, setupClientSecret} once started

  // The standard price for the chosen months and currency, shown as the amount's placeholder.
  function showPrice() {
    const code = form.elements.currency.value;
    const price = (data.prices[code] || {})[form.elements.months.value];
    if (price) {
      const text = Patronage.formatMinor(price, data.currencies[code].decimals);
      form.elements.amount.placeholder = text;
      priceNote.textContent = "Leave empty for the standard price: " + text + " " + code + ".";
    } else {
      form.elements.amount.placeholder = "";
      priceNote.textContent = "Enter the amount you want to give.";
    }
  }

  async function pay() {
    const paid = await Patronage.settle(ui, stripe, gift.payUrl, gift);
    if (paid) window.location.assign(gift.thanksUrl);
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
    if (event.target.closest("#card-element")) return;
    gift = null;
    if (event.target.name === "currency" || event.target.name === "months") showPrice();
  }
  form.addEventListener("input", detailsChanged);
  form.addEventListener("change", detailsChanged);
  showPrice();
})();
