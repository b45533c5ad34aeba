// "Become a member": card entry with Stripe.js.
// 1. POST the form to startUrl -> our membership + a SetupIntent secret.
// 2. stripe.confirmCardSetup(secret, card) -> the card is checked (3-D Secure if asked),
//    once per SetupIntent: sent again after an error on step 3, the form goes on to it.
// 3. POST confirmUrl -> we subscribe; if the bank wants 3-D Secure for the first
//    payment, confirmCardPayment, then ask again.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("join-data").textContent);
  const form = document.getElementById("join-form");
  const button = document.getElementById("join-button");
  const stripe = Stripe(data.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const ui = Patronage.formUi(form);

  let membership = null; // {confirmUrl, welcomeUrl, setupClientSecret} once started
  const setups = Patronage.cardSetup(stripe, card, function (secret) {
    if (membership && membership.setupClientSecret === secret) membership = null; // a new card
  });

  function showSuggestions() {
    const code = form.elements.currency.value;
    const interval = form.elements.interval.value;
    const box = document.getElementById("suggestions");
    box.textContent = "";
    ((data.suggestions[code] || {})[interval] || []).forEach(function (s) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary small";
      b.textContent = s.level + ": " + s.label;
      b.addEventListener("click", function () {
        form.elements.amount.value = Patronage.formatMinor(s.amount, data.currencies[code].decimals);
        membership = null;
      });
      box.appendChild(b);
    });
  }

  async function confirm() {
    const joined = await Patronage.settle(ui, stripe, membership.confirmUrl, membership);
    if (joined) window.location.assign(joined.welcomeUrl);
    else if (!membership.setupClientSecret) membership = null;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    ui.clearErrors();
    button.disabled = true;
    try {
      if (!membership) membership = await ui.start(data.startUrl);
      if (!membership) return;
      if (!(await setups.confirm(ui, membership.setupClientSecret, {card: card}))) return;
      await confirm();
    } catch (err) {
      ui.showError("__all__", "We could not reach the payment service. You have not been charged.");
    } finally {
      button.disabled = false;
    }
  });

  form.addEventListener("change", function (event) {
    if (event.target.closest("#card-element")) return;
    membership = null;
    if (event.target.name === "currency" || event.target.name === "interval") showSuggestions();
  });
  showSuggestions();
})();
