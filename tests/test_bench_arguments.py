"""`python -m bench`'s command line: which sections run."""

import pytest

from bench.__main__ import DEFAULT_SECTIONS, arguments, chosen_sections


def test_only_takes_a_comma_separated_list_of_sections():
    assert arguments(["--only", "pages, api"]).only == ("pages", "api")


def test_an_unknown_section_is_refused(capsys):
    with pytest.raises(SystemExit):
        arguments(["--only", "pages,nope"])
    assert "unknown section" in capsys.readouterr().err


def test_the_admin_at_a_million_payments_runs_only_when_asked():
    assert chosen_sections(arguments([])) == DEFAULT_SECTIONS
    assert "admin" not in DEFAULT_SECTIONS
    assert chosen_sections(arguments(["--admin"])) == (*DEFAULT_SECTIONS, "admin")
    assert chosen_sections(arguments(["--admin", "--only", "api"])) == ("api",)  # only wins
