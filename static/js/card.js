// Update the card renewals are charged to (Patronage.cardForm): startUrl opens a SetupIntent,
// finishUrl saves the card and pays a past-due renewal with it (3-D Secure if the bank asks).
(function () {
  "use strict";
  const data = Patronage.pageData("card-data");
  Patronage.cardForm({
    form: document.getElementById("card-form"),
    data: data,
    start: data.startUrl,
    settle: data.finishUrl,
    done: data.doneUrl,
    unreachable: "We could not reach the payment service. Please try again.",
  });
})();
