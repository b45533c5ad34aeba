"""Branding by settings: name, logo, colours and support address reach pages and emails
without editing the stylesheet, and a mistyped colour fails at start-up."""

import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core import checks
from django.urls import reverse

from config import branding
from config.emails import send_templated
from tests.factories import MembershipFactory, UserFactory


def test_brand_css_is_the_colour_settings_as_css_variables(client, settings):
    settings.BRAND_COLOR = "#AA3300"
    settings.BRAND_CONTRAST_COLOR = "#fff"
    settings.BRAND_ACCENT_COLOR = "#123456"

    response = client.get(reverse("brand_css"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    css = response.content.decode()
    assert "--brand: #aa3300;" in css
    assert "--brand-contrast: #fff;" in css
    assert "--brand-accent: #123456;" in css
    assert css.startswith(":root {")


def test_brand_css_is_cached_long_only_at_its_versioned_address(client, settings):
    settings.BRAND_COLOR = "#aa3300"
    versioned = client.get(f"{reverse('brand_css')}?v={branding.version()}")
    unversioned = client.get(reverse("brand_css"))

    assert "max-age=31536000" in versioned["Cache-Control"]
    assert "max-age=300" in unversioned["Cache-Control"]
    before = branding.version()
    settings.BRAND_COLOR = "#003366"
    assert branding.version() != before  # a new colour is a new address


@pytest.mark.django_db
def test_every_page_links_the_favicon_and_brand_css_before_site_css(client):
    page = client.get(reverse("home")).content.decode()

    assert 'rel="icon" href="/static/favicon.svg"' in page
    brand = page.index(f'href="{reverse("brand_css")}?v={branding.version()}"')
    assert brand < page.index("css/site.css")


def test_the_favicon_and_the_stylesheet_use_no_fixed_brand_colour():
    css = (django_settings.BASE_DIR / "static" / "css" / "site.css").read_text()
    assert "--accent: var(--brand," in css and "--accent-ink: var(--brand-contrast," in css
    favicon = (django_settings.BASE_DIR / "static" / "favicon.svg").read_text()
    assert favicon.startswith("<svg") and "http" not in favicon.replace(
        "http://www.w3.org/2000/svg", ""
    )


@pytest.mark.django_db
def test_the_header_shows_the_logo_when_one_is_set(client, settings):
    settings.ORGANIZATION_NAME = "Kyiv Example"
    page = client.get(reverse("home")).content.decode()
    assert '<a class="brand" href="/">Kyiv Example</a>' in page

    settings.ORGANIZATION_LOGO = "https://cdn.example.org/logo.svg"
    page = client.get(reverse("home")).content.decode()
    assert '<img class="brand-logo" src="https://cdn.example.org/logo.svg" alt="Kyiv Example">' in (
        page
    )

    settings.ORGANIZATION_LOGO = "img/logo.svg"  # a path under static/
    assert branding.logo_url() == "/static/img/logo.svg"
    assert branding.logo_url(absolute=True) == settings.SITE_URL + "/static/img/logo.svg"


@pytest.mark.django_db
def test_the_support_address_and_name_reach_pages_and_emails(client, settings, mailoutbox):
    settings.ORGANIZATION_NAME = "Example Tribune"
    settings.ORGANIZATION_SUPPORT_EMAIL = "help@tribune.example"
    settings.ORGANIZATION_LOGO = "https://cdn.tribune.example/logo.png"
    settings.BRAND_COLOR = "#7a1f2b"
    page = client.get(reverse("home")).content.decode()
    assert "help@tribune.example" in page and "Example Tribune" in page

    membership = MembershipFactory(user=UserFactory(display_name=""))
    send_templated(
        "members/email/ended",
        "ended",
        membership.email,
        {"membership": membership, "name": "", "join_url": "https://x.example/join/"},
    )

    (message,) = mailoutbox
    html = message.alternatives[0][0]
    assert 'src="https://cdn.tribune.example/logo.png"' in html
    assert "color: #7a1f2b;" in html
    assert "Example Tribune" in message.body


@pytest.mark.parametrize(
    ("values", "bad"),
    [
        ({"BRAND_COLOR": "#0b5cad", "BRAND_CONTRAST_COLOR": "#fff"}, []),
        ({"BRAND_COLOR": "blue"}, ["BRAND_COLOR"]),
        ({"BRAND_COLOR": "#0b5cad;}body{x:y"}, ["BRAND_COLOR"]),
        (
            {"BRAND_ACCENT_COLOR": "0b5cad", "BRAND_CONTRAST_COLOR": "#12345"},
            ["BRAND_ACCENT", "BRAND_CONTRAST"],
        ),
    ],
)
def test_a_colour_must_be_a_hex_colour(values, bad):
    problems = branding.colour_problems(values)
    assert len(problems) == len(bad)
    for name, problem in zip(bad, problems, strict=True):
        assert problem.startswith(name) and "#rrggbb" in problem


def test_a_mistyped_colour_fails_the_system_check(settings):
    settings.BRAND_ACCENT_COLOR = "#12"

    errors = [e for e in checks.run_checks() if e.id == "patronage.E002"]

    assert len(errors) == 1 and "BRAND_ACCENT_COLOR='#12'" in errors[0].msg


def test_production_refuses_to_start_with_a_mistyped_colour():
    env = {"DEBUG": "0", "SECRET_KEY": "x" * 50, "BRAND_COLOR": "navy", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = "
            "'config.settings'; django.setup()",
        ],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "BRAND_COLOR='navy' is not a colour" in result.stderr
