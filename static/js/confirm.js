// Confirm a membership renewal the bank wants authenticated (Patronage.cardForm, no card
// to enter): settleUrl answers with the PaymentIntent for confirmCardPayment, then done.
(function () {
  "use strict";
  const data = Patronage.pageData("confirm-data");
  Patronage.cardForm({
    form: document.getElementById("confirm-form"),
    data: data,
    settle: data.settleUrl,
    done: data.doneUrl,
    unreachable: "We could not reach the payment service. Please try again.",
  });
})();
