// Appended by tests/support/localstripe_shim.py to localstripe's fake Stripe.js: what the
// payment pages use and localstripe's script does not do (or does in an older way).
//
// - stripe.createPaymentMethod({type: "card", card: element, billing_details}): the card
//   entered, as a PaymentMethod made with the publishable key (as Stripe.js makes it);
//   the page sends its id to our server, which confirms the payment with it.
// - A 3-D Secure check that fails while a card is set up says so with Stripe's code
//   (`setup_intent_authentication_failure`), as Stripe.js does.
(function () {
  "use strict";
  const localstripe = Stripe;

  Stripe = (apiKey) => {
    const stripe = localstripe(apiKey);

    stripe.createPaymentMethod = async (data) => {
      const value = (data.card && data.card.value) || {};
      const billing = Object.assign({}, data.billing_details || {});
      billing.address = Object.assign({}, billing.address || {});
      if (value.postal_code && !billing.address.postal_code) {
        billing.address.postal_code = value.postal_code;
      }
      try {
        const response = await fetch(`${LOCALSTRIPE_BASE_API}/v1/payment_methods`, {
          method: "POST",
          body: JSON.stringify({
            key: apiKey, type: data.type || "card", card: value.card || {}, billing_details: billing,
          }),
        });
        const body = await response.json().catch(() => ({}));
        if (response.status !== 200 || body.error) {
          return {error: Object.assign({type: "validation_error"}, body.error || {})};
        }
        return {paymentMethod: body};
      } catch (err) {
        return {error: {type: "api_connection_error", message: String(err)}};
      }
    };

    const confirmCardSetup = stripe.confirmCardSetup;
    stripe.confirmCardSetup = async (clientSecret, data) => {
      const result = await confirmCardSetup(clientSecret, data);
      const error = result.error;
      if (error && !error.code && /authentication failed/.test(error.message || "")) {
        error.code = "setup_intent_authentication_failure";
      }
      return result;
    };

    return stripe;
  };
})();
