// "Give a membership": the standard price for the chosen months; the card payment is
// Patronage.payOnce, through payments' own pay call, as on the give page.
(function () {
  "use strict";
  const data = Patronage.pageData("gift-data");
  const form = document.getElementById("gift-form");
  const priceNote = document.getElementById("gift-price");
  Patronage.payOnce(form, data);

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

  form.addEventListener("change", function (event) {
    if (event.target.name === "currency" || event.target.name === "months") showPrice();
  });
  showPrice();
})();
