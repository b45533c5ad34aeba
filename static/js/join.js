// "Become a member": the membership levels as suggested amounts (toggle buttons), the
// amount stated on the button and in the total, and Patronage.cardForm: the start opens
// our membership and a SetupIntent; confirmUrl subscribes (3-D Secure if the bank wants
// it for the first payment), then on to the welcome page.
(function () {
  "use strict";
  const data = Patronage.pageData("join-data");
  const form = document.getElementById("join-form");
  const choices = Patronage.amountButtons(form, document.getElementById("suggestions"));
  Patronage.cardForm({
    form: form,
    data: data,
    start: data.startUrl,
    settle: function (started) { return started.confirmUrl; },
    done: function (started, joined) { return joined.welcomeUrl; },
  });
  const statePrices = Patronage.statePrices(form, data, "membership");

  // The levels' prices in this currency and interval; `fresh`: a new currency or interval,
  // whose middle level goes in the box (the server puts the first one's there).
  function showSuggestions(fresh) {
    const code = form.elements.currency.value;
    const decimals = data.currencies[code].decimals;
    const items = ((data.suggestions[code] || {})[form.elements.interval.value] || [])
      .map(function (s) { return {amount: s.amount, label: s.level + ": " + s.label}; });
    if (fresh) {
      const middle = items[Math.floor((items.length - 1) / 2)];
      form.elements.amount.value = middle ? Patronage.formatMinor(middle.amount, decimals) : "";
    }
    choices.show(items, decimals);
    statePrices();
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "currency" || event.target.name === "interval") showSuggestions(true);
  });
  showSuggestions(!form.elements.amount.value);
})();
