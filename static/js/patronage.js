// What the payment pages share: one card flow (cardForm) that every page runs (give,
// gift membership, join, card update, confirming a renewal), and its helpers.
window.Patronage = (function () {
  "use strict";

  function formatMinor(minor, decimals) {
    return (minor / Math.pow(10, decimals)).toFixed(decimals);
  }

  // The data a page hands its script: {{ page_data|json_script:id }}.
  function pageData(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  // The form control named `name` (the first of a radio group), or null.
  function control(form, name) {
    const el = form.elements.namedItem(name);
    return el && !el.tagName && el.length ? el[0] : el;
  }

  // Error display and JSON posting for one form with data-error-for slots. A field with an
  // error is aria-invalid (its aria-describedby already names its slot, see
  // partials/field.html); focusFirstError moves the reader to it after a failed submit.
  function formUi(form) {
    function showError(field, message) {
      const el = form.querySelector('[data-error-for="' + field + '"]') ||
        form.querySelector('[data-error-for="__all__"]');
      el.textContent = message; // textContent: never interpreted as HTML
      const input = control(form, field);
      if (input && input.setAttribute) input.setAttribute("aria-invalid", "true");
    }

    function clearErrors() {
      form.querySelectorAll("[data-error-for]").forEach(function (el) { el.textContent = ""; });
      form.querySelectorAll('[aria-invalid="true"]').forEach(function (el) {
        el.removeAttribute("aria-invalid");
      });
    }

    // The first invalid field in the form's order, else the first error shown (the card's,
    // or the form's own), gets the focus. Returns whether there was one.
    function focusFirstError() {
      const invalid = form.querySelector('[aria-invalid="true"]');
      if (invalid) { invalid.focus(); return true; }
      const shown = Array.prototype.find.call(form.querySelectorAll("[data-error-for]"),
        function (el) { return el.textContent.trim() !== ""; });
      if (!shown) return false;
      shown.setAttribute("tabindex", "-1");
      shown.focus();
      return true;
    }

    async function post(url, body) {
      const response = await fetch(url, {
        method: "POST",
        headers: {"X-CSRFToken": form.elements.csrfmiddlewaretoken.value},
        body: body,
        credentials: "same-origin",
      });
      const payload = await response.json().catch(function () { return {}; });
      return {ok: response.ok, status: response.status, payload: payload};
    }

    // POST the form itself; show its field errors, or return the server's answer.
    async function start(url) {
      const result = await post(url, new FormData(form));
      if (!result.ok) {
        const errors = result.payload.errors || {};
        Object.keys(errors).forEach(function (f) { showError(f, errors[f].join(" ")); });
        if (result.payload.error) showError("__all__", result.payload.error);
        return null;
      }
      return result.payload;
    }

    return {
      showError: showError, clearErrors: clearErrors, focusFirstError: focusFirstError,
      post: post, start: start,
    };
  }

  // Our sentence for a card error from Stripe.js (its code, or its bank's decline code):
  // the page data's cardMessages, from payments/stripe_gateway/errors.py CARD_MESSAGES.
  function cardMessage(messages, error) {
    return messages[error.decline_code] || messages[error.code] || messages._default;
  }

  // POST `url` until the payment is settled, running the bank's check (3-D Secure) in
  // Stripe.js when it asks: the first POST carries the card entered (`paymentMethod`, if
  // any), the next ones ask where the payment stands. Returns the server's answer once
  // it went through, else null with the error shown; payment.anotherCard then says
  // whether the same payment may be tried again, with another card (else the reader
  // starts anew).
  async function settle(ui, stripe, url, payment, messages) {
    let body = new FormData();
    if (payment.paymentMethod) body.append("payment_method", payment.paymentMethod);
    payment.anotherCard = false;
    payment.unanswered = false;
    for (let round = 0; round < 3; round++) {
      const result = await ui.post(url, body);
      body = new FormData();
      const p = result.payload;
      if (!result.ok) {
        const errors = p.errors || {};
        Object.keys(errors).forEach(function (f) { ui.showError(f, errors[f].join(" ")); });
        if (p.error || !Object.keys(errors).length) {
          ui.showError("__all__", p.error || "Something went wrong.");
        }
        // A refusal of the payment itself (400: closed, expired) starts anew; an error
        // about the card, or Stripe or the network failing, keeps this payment: sent
        // again, it is never charged twice.
        payment.anotherCard = result.status !== 400 || Boolean(errors.card);
        payment.unanswered = result.status === 502; // Stripe failed: it may have charged
        return null;
      }
      if (p.status === "succeeded" || p.status === "processing") return p;
      if (p.status === "failed") {
        payment.anotherCard = Boolean(p.anotherCard);
        ui.showError("card", p.error || messages.card_declined);
        return null;
      }
      if (p.status === "requires_action") {
        const action = await stripe.confirmCardPayment(p.clientSecret);
        if (action.error) ui.showError("card", cardMessage(messages, action.error));
        // Either way, ask our server where the payment stands now.
      }
    }
    return null;
  }

  // A card set up before any payment (the card update page), confirmed with Stripe.js
  // once per SetupIntent. Stripe refuses to confirm a SetupIntent that already succeeded,
  // so a form sent again after a server or network error goes straight on to our server.
  // `onCardChanged(secret)` runs when the reader edits the card confirmed for `secret`.
  function cardSetup(stripe, card, messages, onCardChanged) {
    let confirmed = null; // the SetupIntent secret Stripe.js confirmed last

    card.on("change", function () { if (confirmed) onCardChanged(confirmed); });

    // Returns true once the card is set up for `secret`, else shows why and returns false.
    async function confirm(ui, secret, paymentMethod) {
      if (secret === confirmed) return true;
      const setup = await stripe.confirmCardSetup(secret, {payment_method: paymentMethod});
      if (setup.error) { ui.showError("card", cardMessage(messages, setup.error)); return false; }
      confirmed = secret;
      return true;
    }

    return {confirm: confirm};
  }

  // The card flow of a payment page, run when `options.form` is sent:
  // 1. POST the form to options.start -> our record (no start: straight on to 3, as for a
  //    renewal waiting for the bank's check).
  // 2. If the form has a #card-element (partials/card_fieldset.html): the card entered, as
  //    a PaymentMethod (Stripe.js createPaymentMethod, which asks the bank nothing). Or,
  //    when the start answered a setupClientSecret (the card update page), confirmCardSetup.
  // 3. POST options.settle with the card until the payment went through (see settle: our
  //    server charges the card, and the bank's check runs once, if it asks), then go to
  //    options.done. After a declined card the same start takes another card.
  // settle and done are URLs, or functions of the start's answer (done: and of settle's).
  // options.billingDetails() goes with the card; options.unreachable is the message when
  // the network fails. One submit at a time. Editing any other field starts anew, and so
  // does editing a card once set up. Returns {reset}, for changes made by script.
  function cardForm(options) {
    const form = options.form;
    const button = form.querySelector('button[type="submit"]');
    const ui = formUi(form);
    const messages = options.data.cardMessages || {};
    const stripe = Stripe(options.data.publishableKey);
    const cardBox = form.querySelector("#card-element");
    const card = cardBox ? stripe.elements().create("card") : null;
    if (card) card.mount(cardBox);
    let started = null; // the start's answer, until something asks for a new start
    // The card of the last submit, when Stripe failed it (502: it may have charged): the
    // next submit sends the same card again, so our server repeats the same request (the
    // same idempotency key) and Stripe charges once. A card edited is a new card.
    let unanswered = null;
    let busy = false;
    if (card) card.on("change", function () { unanswered = null; });
    const setups = card && cardSetup(stripe, card, messages, function (secret) {
      if (started && started.setupClientSecret === secret) started = null; // a new card
    });

    function url(option, run, answer) {
      return typeof option === "function" ? option(run, answer) : option;
    }

    // The card entered, for this submit: {paymentMethod} (its id, or none when the card
    // was set up on the start's SetupIntent), or null with the error shown.
    async function enteredCard(run) {
      if (!card) return {};
      const method = {card: card};
      if (options.billingDetails) method.billing_details = options.billingDetails();
      if (run.setupClientSecret) {
        return (await setups.confirm(ui, run.setupClientSecret, method)) ? {} : null;
      }
      const made = await stripe.createPaymentMethod(Object.assign({type: "card"}, method));
      if (made.error) { ui.showError("card", cardMessage(messages, made.error)); return null; }
      return {paymentMethod: made.paymentMethod.id};
    }

    async function pay() {
      if (!started) started = options.start ? await ui.start(options.start) : {};
      const run = started; // this submit's start, whatever the reader edits meanwhile
      if (!run) return;
      const again = unanswered && unanswered.run === run ? unanswered.paymentMethod : null;
      const payment = again ? {paymentMethod: again} : await enteredCard(run);
      if (!payment) return;
      const done = await settle(ui, stripe, url(options.settle, run), payment, messages);
      unanswered = !done && payment.unanswered && payment.paymentMethod
        ? {run: run, paymentMethod: payment.paymentMethod} : null;
      if (done) window.location.assign(url(options.done, run, done));
      else if (!payment.anotherCard && started === run) started = null; // start anew
    }

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (busy) return;
      busy = true;
      button.disabled = true;
      ui.clearErrors();
      try {
        await pay();
      } catch (err) {
        ui.showError("__all__", options.unreachable ||
          "We could not reach the payment service, so we cannot tell whether your payment " +
          "went through. If it did, your receipt is on its way by email; please check " +
          "before trying again.");
      } finally {
        busy = false;
        button.disabled = false;
        // Disabling the button dropped the focus to the page: take the reader to what failed.
        ui.focusFirstError();
      }
    });

    function detailsChanged(event) {
      if (!(cardBox && cardBox.contains(event.target))) started = null;
    }
    form.addEventListener("input", detailsChanged);
    form.addEventListener("change", detailsChanged);
    return {reset: function () { started = null; }};
  }

  // cardForm for a payment made once (give, gift membership): the start answers where to
  // pay (payUrl) and where to thank (thanksUrl); the card goes with the giver's email and name.
  function payOnce(form, data) {
    return cardForm({
      form: form,
      data: data,
      start: data.startUrl,
      settle: function (started) { return started.payUrl; },
      done: function (started) { return started.thanksUrl; },
      billingDetails: function () {
        return {email: form.elements.email.value, name: form.elements.name.value};
      },
    });
  }

  // --- Prices stated before paying ----------------------------------------------------
  // The same words as payments/price_labels.py (pay_labels), from the page data's currencies
  // ({decimals, minimum, maximum, symbol, feeBps, feeFixed}): keep the two in step.

  // What the reader typed ("10", "10.50", "1,000", "10,50") in minor units, else null
  // (as payments.money.parse_major_amount reads it).
  function parseMajor(text, decimals) {
    let s = String(text).replace(/[ \u00a0]/g, "");
    if (/^\d{1,3}(,\d{3})+(\.\d*)?$/.test(s)) s = s.replace(/,/g, "");
    else if (/^\d+,\d{1,2}$/.test(s)) s = s.replace(",", ".");
    if (!/^(\d+(\.\d*)?|\.\d+)$/.test(s) || s.length > 20) return null;
    const parts = s.split(".");
    const fraction = (parts[1] || "").replace(/0+$/, "");
    if (fraction.length > decimals) return null;
    const minor = Number((parts[0] || "0") + fraction.padEnd(decimals, "0"));
    return Number.isSafeInteger(minor) ? minor : null;
  }

  // Money for a button: "$10", "$10.61", "CHF 12.50" (price_labels.short).
  function formatShort(minor, code, currency) {
    const d = currency.decimals;
    const digits = String(minor).padStart(d + 1, "0");
    let whole = digits.slice(0, digits.length - d);
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    const fraction = d ? digits.slice(-d) : "";
    const number = fraction && !/^0+$/.test(fraction) ? whole + "." + fraction : whole;
    return currency.symbol ? currency.symbol + number : code + " " + number;
  }

  // What "cover the card fees" adds (payments.currencies.fee_cover): the smallest total
  // whose estimated fee leaves `amount`, in integer arithmetic.
  function feeCover(amount, currency) {
    const keep = 10000 - currency.feeBps;
    return Math.floor(((amount + currency.feeFixed) * 10000 + keep - 1) / keep) - amount;
  }

  // {button, total, fees} for `kind` ("once", "membership", "gift"): price_labels.pay_labels.
  function payLabels(kind, amount, code, currency, options) {
    options = options || {};
    if (amount === null || !currency || amount < currency.minimum || amount > currency.maximum) {
      const plain = {once: "Give now", membership: "Become a member", gift: "Pay and give"};
      return {button: plain[kind], total: "", fees: "Add a little to cover the card fees"};
    }
    const cover = feeCover(amount, currency);
    const fees = "Add " + formatShort(cover, code, currency) + " to cover card fees \u2014 total " +
      formatShort(amount + cover, code, currency);
    if (kind === "membership") {
      const each = formatShort(amount, code, currency) + " a " + options.interval;
      return {
        button: "Join for " + each,
        total: "Total: " + each + ", charged today, then every " + options.interval +
          " until you cancel.",
        fees: fees,
      };
    }
    const total = formatShort(amount + (options.coverFees ? cover : 0), code, currency);
    const months = options.months;
    return {
      button: kind === "gift" ?
        "Give " + months + " month" + (months === 1 ? "" : "s") + " for " + total : "Give " + total,
      total: "Total: " + total + ", charged once." + (kind === "gift" ? " It does not renew." : ""),
      fees: fees,
    };
  }

  // Keep a payment form's submit button, its #total (a live region) and its #fee-text
  // saying what will be charged, as the reader changes any field. Returns the update
  // function, for changes made by script.
  function statePrices(form, data, kind) {
    const button = form.querySelector('button[type="submit"]');
    const total = document.getElementById("total");
    const feeText = document.getElementById("fee-text");
    function update() {
      const code = form.elements.currency.value;
      const currency = data.currencies[code];
      const amount = currency ? parseMajor(form.elements.amount.value, currency.decimals) : null;
      const labels = payLabels(kind, amount, code, currency, {
        coverFees: Boolean(form.elements.cover_fees && form.elements.cover_fees.checked),
        interval: form.elements.interval && form.elements.interval.value,
        months: form.elements.months && Number(form.elements.months.value),
      });
      if (button.textContent !== labels.button) button.textContent = labels.button;
      if (total && total.textContent !== labels.total) total.textContent = labels.total;
      if (feeText && feeText.textContent !== labels.fees) feeText.textContent = labels.fees;
    }
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
    return update;
  }

  // The suggested amounts as toggle buttons in `box` (a role=group): the one equal to the
  // amount typed is pressed (aria-pressed), kept in step as the reader types. show(items,
  // decimals) puts up the buttons for [{amount, label}]; a click puts its amount in the box.
  function amountButtons(form, box) {
    const input = form.elements.amount;
    let shown = [];
    let places = 0;
    function sync() {
      const typed = parseMajor(input.value, places);
      shown.forEach(function (entry) {
        entry.button.setAttribute("aria-pressed", String(typed === entry.item.amount));
      });
    }
    function show(items, decimals) {
      places = decimals;
      box.textContent = "";
      shown = items.map(function (item) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "secondary small amount-choice";
        b.textContent = item.label;
        b.addEventListener("click", function () {
          input.value = formatMinor(item.amount, decimals);
          // The form's listeners (the prices, a new start, sync) hear of the new amount.
          input.dispatchEvent(new Event("input", {bubbles: true}));
        });
        box.appendChild(b);
        return {button: b, item: item};
      });
      sync();
    }
    input.addEventListener("input", sync);
    return {show: show, sync: sync};
  }

  return {
    formatMinor: formatMinor, pageData: pageData, cardForm: cardForm, payOnce: payOnce,
    parseMajor: parseMajor, formatShort: formatShort, feeCover: feeCover,
    payLabels: payLabels, statePrices: statePrices, amountButtons: amountButtons,
  };
})();
