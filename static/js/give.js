// "Support us just once": the suggested amounts; the card payment is Patronage.payOnce.
(function () {
  "use strict";
  const data = Patronage.pageData("give-data");
  const form = document.getElementById("give-form");
  const amountInput = form.elements.amount;
  const currencySelect = form.elements.currency;
  const suggestionsBox = document.getElementById("suggestions");
  const payment = Patronage.payOnce(form, data);

  function showSuggestions() {
    const code = currencySelect.value;
    const decimals = data.currencies[code].decimals;
    suggestionsBox.textContent = "";
    (data.suggestions[code] || []).forEach(function (s) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary small";
      b.textContent = s.label;
      b.addEventListener("click", function () {
        amountInput.value = Patronage.formatMinor(s.amount, decimals);
        payment.reset();
      });
      suggestionsBox.appendChild(b);
      if (s.default && !amountInput.value) amountInput.value = Patronage.formatMinor(s.amount, decimals);
    });
  }

  currencySelect.addEventListener("change", function () { amountInput.value = ""; showSuggestions(); });
  showSuggestions();
})();
