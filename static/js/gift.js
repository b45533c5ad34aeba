// "Give a membership": the level it gives and its perks, and the price for the chosen months
// in the amount box until the giver types an amount of their own; the amount and fee cover
// stated on the button and in the total. The card payment is Patronage.payOnce, through
// payments' own pay call, as on the give page.
(function () {
  "use strict";
  const data = Patronage.pageData("gift-data");
  const form = document.getElementById("gift-form");
  const amount = form.elements.amount;
  Patronage.payOnce(form, data);
  const statePrices = Patronage.statePrices(form, data, "gift");
  let ownAmount = false; // the giver typed an amount: months and currency leave it alone

  amount.addEventListener("input", function (event) {
    if (event.isTrusted) ownAmount = amount.value.trim() !== "";
  });

  function showLevel(code) {
    const section = document.getElementById("gift-level");
    const level = data.levels[code];
    section.hidden = !level;
    if (!level) return;
    section.querySelector("[data-level-name]").textContent = level.name;
    const perks = section.querySelector("[data-level-perks]");
    perks.textContent = "";
    level.perks.forEach(function (perk) {
      const li = document.createElement("li");
      li.textContent = perk;
      perks.appendChild(li);
    });
  }

  // The price for the months and currency, in the amount box unless the giver chose theirs.
  function showPrice() {
    const code = form.elements.currency.value;
    const price = (data.prices[code] || {})[form.elements.months.value];
    if (!ownAmount) {
      amount.value = price ? Patronage.formatMinor(price, data.currencies[code].decimals) : "";
    }
    statePrices();
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "currency") showLevel(event.target.value);
    if (event.target.name === "currency" || event.target.name === "months") showPrice();
  });
  showLevel(form.elements.currency.value);
  if (!amount.value) showPrice();
})();
