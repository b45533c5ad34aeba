// "Support us just once": the suggested amounts (toggle buttons), the amount and fee cover
// stated on the button and in the total; the card payment is Patronage.payOnce.
(function () {
  "use strict";
  const data = Patronage.pageData("give-data");
  const form = document.getElementById("give-form");
  const amountInput = form.elements.amount;
  const currencySelect = form.elements.currency;
  const choices = Patronage.amountButtons(form, document.getElementById("suggestions"));
  Patronage.payOnce(form, data);
  const statePrices = Patronage.statePrices(form, data, "once");

  // The currency's suggestions; `fresh`: a new currency, whose default amount goes in the box
  // (the server puts the first currency's there).
  function showSuggestions(fresh) {
    const code = currencySelect.value;
    const decimals = data.currencies[code].decimals;
    const items = data.suggestions[code] || [];
    if (fresh) {
      const chosen = items.find(function (s) { return s.default; });
      amountInput.value = chosen ? Patronage.formatMinor(chosen.amount, decimals) : "";
    }
    choices.show(items, decimals);
    statePrices();
  }

  currencySelect.addEventListener("change", function () { showSuggestions(true); });
  showSuggestions(!amountInput.value);
})();
