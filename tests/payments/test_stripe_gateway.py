from payments import stripe_gateway


def test_gateway_creates_a_customer_in_the_stripe_emulator(localstripe):
    customer_id = stripe_gateway.create_customer(
        email="reader@example.org", name="Reader", idempotency_key="test-customer-1"
    )

    assert customer_id.startswith("cus_")
    customer = stripe_gateway.client().v1.customers.retrieve(customer_id)
    assert customer.email == "reader@example.org"
    assert customer.name == "Reader"
