// "Become a member": the level cards (radio inputs: a level's price for the chosen currency
// and interval, put in the amount box when chosen), the amount stated on the button and in
// the total, and Patronage.cardForm: the start records our membership (a guest gives their
// email there); confirmUrl subscribes with the card entered (3-D Secure, once, if the bank
// wants it for the first payment), then on to the welcome page.
(function () {
  "use strict";
  const data = Patronage.pageData("join-data");
  const form = document.getElementById("join-form");
  const levels = Array.prototype.slice.call(form.querySelectorAll('input[name="level"]'));
  Patronage.cardForm({
    form: form,
    data: data,
    start: data.startUrl,
    settle: function (started) { return started.confirmUrl; },
    done: function (started, joined) { return joined.welcomeUrl; },
    billingDetails: function () {
      return form.elements.email ? {email: form.elements.email.value} : {};
    },
  });
  const statePrices = Patronage.statePrices(form, data, "membership");

  function priceOf(radio) {
    const prices = (data.levelPrices[radio.dataset.level] || {})[form.elements.currency.value] || {};
    const amount = prices[form.elements.interval.value];
    return amount === undefined ? null : amount;
  }

  // Each card's price in this currency and interval; `fresh`: a new currency or interval,
  // whose price of the level chosen (else of the middle level among those priced) is put
  // in the box, so a reader who chose Champion and then Yearly still has Champion.
  function showLevels(fresh) {
    const chosen = levels.find(function (radio) { return radio.checked; });
    const code = form.elements.currency.value;
    const currency = data.currencies[code];
    const interval = form.elements.interval.value;
    const priced = [];
    levels.forEach(function (radio) {
      const amount = priceOf(radio);
      const label = form.querySelector('[data-price-for="' + radio.dataset.level + '"]');
      radio.disabled = amount === null || !currency;
      radio.value = radio.disabled ? "" : Patronage.formatMinor(amount, currency.decimals);
      label.textContent = radio.disabled ? "Not offered in this currency" :
        Patronage.formatShort(amount, code, currency) + " a " + interval;
      if (!radio.disabled) priced.push(radio);
    });
    if (fresh && priced.length) {
      const middle = priced[Math.floor((priced.length - 1) / 2)];
      form.elements.amount.value = (chosen && !chosen.disabled ? chosen : middle).value;
    }
    syncLevels();
    statePrices();
  }

  // The card whose price is the amount typed is checked; none for another amount.
  function syncLevels() {
    const currency = data.currencies[form.elements.currency.value];
    const typed = currency ? Patronage.parseMajor(form.elements.amount.value, currency.decimals) : null;
    levels.forEach(function (radio) {
      radio.checked = !radio.disabled && typed !== null && priceOf(radio) === typed;
    });
  }

  levels.forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (!radio.checked) return;
      form.elements.amount.value = radio.value;
      // The form's listeners (the prices, a new start) hear of the new amount.
      form.elements.amount.dispatchEvent(new Event("input", {bubbles: true}));
    });
  });
  form.elements.amount.addEventListener("input", syncLevels);
  form.addEventListener("change", function (event) {
    if (event.target.name === "currency" || event.target.name === "interval") showLevels(true);
  });
  showLevels(!form.elements.amount.value);
})();
