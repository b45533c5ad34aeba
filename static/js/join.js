// "Become a member": the membership levels as suggested amounts, and Patronage.cardForm:
// the start opens our membership and a SetupIntent; confirmUrl subscribes (3-D Secure if
// the bank wants it for the first payment), then on to the welcome page.
(function () {
  "use strict";
  const data = Patronage.pageData("join-data");
  const form = document.getElementById("join-form");
  const membership = Patronage.cardForm({
    form: form,
    data: data,
    start: data.startUrl,
    settle: function (started) { return started.confirmUrl; },
    done: function (started, joined) { return joined.welcomeUrl; },
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
        membership.reset();
      });
      box.appendChild(b);
    });
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "currency" || event.target.name === "interval") showSuggestions();
  });
  showSuggestions();
})();
