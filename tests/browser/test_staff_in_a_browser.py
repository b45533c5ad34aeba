"""Journey 10 (and 6's refund) in a real browser: staff sign in to admin, read the revenue
dashboard, find a guest's gift in the ledger by their email and refund it; the figures
change once Stripe's refund event is processed, and the donor is told. Staff who may
only look see the figures and the ledger, and no way to change them."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import STAFF_EMAIL, STAFF_PASSWORD, on_the_site, screenshot
from tests.browser.steps import ARTICLE, THANKS, answer_challenges, fill_card
from tests.support.stripejs import CARD_OK

pytestmark = [pytest.mark.integration, pytest.mark.browser]

DASHBOARD = "/admin/revenue/?period=this_month&currency=USD"
LEDGER = "/admin/payments/payment/"
VIEWER_EMAIL = "browser.viewer@example.org"
STAFF_ROLE_PASSWORD = "a long staff password 2026"
# Only permissions to look: the ledger and what hangs off it, and the figures
VIEW_ONLY = (
    "payments.view_payment",
    "payments.view_refund",
    "payments.view_donation",
    "payments.view_donor",
    "payments.view_receipt",
    "payments.view_revenue",
    "members.view_membership",
)


def give(page, stack, email: str, dollars: int) -> None:
    """A guest gives `dollars` once from an article; back when their receipt is sent (the
    payment's events were processed and the ledger has the row)."""
    page.goto(f"/give/?from={ARTICLE}")
    page.get_by_label("Currency").select_option("USD")
    page.locator("#id_amount").fill(str(dollars))
    expect(page.locator("#give-button")).to_have_text(f"Give ${dollars}")
    page.get_by_label("Email").fill(email)
    fill_card(page, CARD_OK)
    page.locator("#give-button").click()
    answer_challenges(page, until=THANKS)
    stack.mail.wait_for(email, "receipt", timeout=60)


def admin_sign_in(page, email: str, password: str) -> None:
    """Through the admin's door, which sends staff to the site's own sign-in page."""
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=%2Fadmin%2F$"))
    page.get_by_label("Your email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def cents(page, label: str) -> int:
    """A dashboard figure (`Net`, `Refunds`...), in cents: "-$1,234.50" is -123450."""
    figure = page.locator("dl.figures .figure").filter(
        has=page.locator("dt", has_text=re.compile(f"^{re.escape(label)}$"))
    )
    text = figure.locator("dd").inner_text()
    match = re.match(r"\s*(-?)\$([\d,]+)\.(\d\d)", text)
    assert match, f"{label}: {text!r}"
    sign, dollars, hundredths = match.groups()
    return (-1 if sign else 1) * (int(dollars.replace(",", "")) * 100 + int(hundredths))


def note(page, label: str) -> str:
    """The small print under a dashboard figure ("2 refund(s)")."""
    figure = page.locator("dl.figures .figure").filter(
        has=page.locator("dt", has_text=re.compile(f"^{re.escape(label)}$"))
    )
    return figure.locator("dd small").inner_text()


def make_staff(stack, email: str, *, group: str, permissions: tuple[str, ...] = ()) -> None:
    """A staff account (email confirmed) in `group`: one of the project's roles
    (content/migrations/0004_staff_roles.py), or a group made of `permissions`."""
    on_the_site(
        stack,
        "from allauth.account.models import EmailAddress\n"
        "from django.contrib.auth.models import Group, Permission\n"
        "from members.models import User\n"
        f"group, _ = Group.objects.get_or_create(name={group!r})\n"
        f"for app, code in [p.split('.') for p in {list(permissions)!r}]:\n"
        "    group.permissions.add(\n"
        "        Permission.objects.get(content_type__app_label=app, codename=code))\n"
        f"u = User.objects.create_user({email!r}, {STAFF_ROLE_PASSWORD!r}, is_staff=True)\n"
        "u.groups.add(group)\n"
        "EmailAddress.objects.create(user=u, email=u.email, verified=True, primary=True)",
    )


def open_payment_of(page, email: str) -> None:
    """The ledger searched by the donor's email, and their one payment opened."""
    page.goto(LEDGER)
    page.locator("#searchbar").fill(email)
    page.locator("#searchbar").press("Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(email)
    rows.locator(".field-paid a").click()
    expect(page.locator("#content")).to_contain_text(email)


def test_staff_refund_a_gift_found_by_email_and_the_dashboard_follows_stripes_event(page, stack):
    """Net and refunds move by the refunded amount once Stripe confirms; the donor is told."""
    kept, refunded = "browser.staff-gift.1@example.org", "browser.staff-gift.2@example.org"
    give(page, stack, kept, 35)
    give(page, stack, refunded, 20)
    page.context.clear_cookies()

    admin_sign_in(page, STAFF_EMAIL, STAFF_PASSWORD)
    expect(page.locator(".revenue-summary")).to_contain_text("Gross")
    page.get_by_role("link", name="Open the revenue dashboard").click()
    page.get_by_label("Currency").select_option("USD")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#money-title")).to_have_text("Money")
    gross, net, refunds = cents(page, "Gross"), cents(page, "Net"), cents(page, "Refunds")
    refund_count = int(note(page, "Refunds").split()[0])
    assert gross >= 5500  # both gifts of today are in this month's money
    assert cents(page, "One-time") >= 5500
    chart = page.locator(".chart svg").first
    first_day = chart.locator("text.label").first  # the month's first date, not cut in half
    assert first_day.bounding_box()["x"] >= chart.bounding_box()["x"]
    screenshot(page, "admin-dashboard")

    open_payment_of(page, refunded)
    expect(page.locator("#content")).to_contain_text("$20.00")
    page.get_by_role("link", name="Refund…").click()
    expect(page.locator("h1")).to_have_text(f"Refund $20.00 from {refunded}")
    expect(page.get_by_label("Amount (USD)")).to_have_value("20.00")  # all of it, unless told
    page.get_by_label("Reason").select_option("requested_by_customer")
    page.get_by_label("Note").fill("Gave twice by mistake (browser test).")
    page.get_by_role("button", name="Refund").click()

    expect(page.locator(".messagelist")).to_contain_text(
        "Refund of $20.00 asked of Stripe; the ledger shows it when Stripe confirms it."
    )
    # Stripe's charge.refunded reaches the site; once handled, the donor is told
    (notice,) = stack.mail.wait_for(refunded, "refund", timeout=60)
    assert "$20.00" in notice.text

    page.reload()
    expect(page.locator(".field-refunded_display")).to_contain_text("$20.00")
    expect(page.locator("#refunds-group")).to_contain_text("Succeeded")

    page.goto(DASHBOARD)
    assert cents(page, "Refunds") == refunds - 2000
    assert cents(page, "Net") == net - 2000
    assert cents(page, "Gross") == gross  # the gift was made; its money went back
    assert note(page, "Refunds") == f"{refund_count + 1} refund(s)"

    open_payment_of(page, kept)  # the other guest's gift is untouched
    expect(page.locator(".field-refunded_display")).to_contain_text("—")


def test_staff_who_may_only_look_see_the_figures_and_no_way_to_change_a_payment(page, stack):
    """A group of view permissions only (README: a group made by hand): no refund link, no
    Add, Save or Delete, no bulk action, and the refund page's address sends them back."""
    donor = "browser.staff-gift.3@example.org"
    give(page, stack, donor, 15)
    page.context.clear_cookies()
    make_staff(stack, VIEWER_EMAIL, group="Viewers (browser test)", permissions=VIEW_ONLY)

    admin_sign_in(page, VIEWER_EMAIL, STAFF_ROLE_PASSWORD)
    expect(page.locator(".revenue-summary")).to_contain_text("Net")
    page.goto(DASHBOARD)
    assert cents(page, "Gross") >= 1500
    assert cents(page, "One-time") >= 1500

    open_payment_of(page, donor)
    expect(page.locator("#content")).to_contain_text("$15.00")
    expect(page.get_by_role("link", name="Refund…")).to_have_count(0)
    for action in ["Save", "Save and continue editing", "Delete"]:
        expect(page.get_by_role("button", name=action)).to_have_count(0)
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)
    refund_url = re.sub(r"/change/$", "/refund/", urlsplit(page.url).path)

    page.goto(LEDGER)
    expect(page.locator("#result_list")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Add"))).to_have_count(0)
    expect(page.locator("select[name=action]")).to_have_count(0)  # no bulk actions either

    # Typing the refund page's address does not refund either
    response = page.goto(refund_url)
    assert response is not None and response.ok
    expect(page).to_have_url(re.compile(re.escape(LEDGER) + "$"))
    expect(page.locator(".messagelist")).to_contain_text("You may not refund payments.")
    expect(page.get_by_role("button", name="Refund")).to_have_count(0)


def test_the_membership_role_sees_a_payment_and_the_figures_but_may_not_refund(page, stack):
    """The project's Membership role looks at a member's payments, never refunds them."""
    donor, staff = "browser.staff-gift.4@example.org", "browser.membership-staff@example.org"
    give(page, stack, donor, 12)
    page.context.clear_cookies()
    make_staff(stack, staff, group="Membership")

    admin_sign_in(page, staff, STAFF_ROLE_PASSWORD)
    page.goto(DASHBOARD)
    assert cents(page, "One-time") >= 1200

    open_payment_of(page, donor)
    expect(page.locator("#content")).to_contain_text("$12.00")
    expect(page.get_by_role("link", name="Refund…")).to_have_count(0)
    page.goto(re.sub(r"/change/$", "/refund/", urlsplit(page.url).path))
    expect(page).to_have_url(re.compile(re.escape(LEDGER) + "$"))
    expect(page.locator(".messagelist")).to_contain_text("You may not refund payments.")


def test_the_editorial_role_reads_the_figures_but_not_the_ledger_behind_them(page, stack):
    """Editors see the figures, read-only: no link to a list of payments, and the ledger
    answers 403."""
    staff = "browser.editorial-staff@example.org"
    make_staff(stack, staff, group="Editorial")

    admin_sign_in(page, staff, STAFF_ROLE_PASSWORD)
    page.goto(DASHBOARD)
    expect(page.locator("#money-title")).to_have_text("Money")
    cents(page, "Gross")  # shown, as money
    expect(page.locator("dl.figures a[href*='/admin/payments/']")).to_have_count(0)
    response = page.goto(LEDGER)
    assert response is not None and response.status == 403
