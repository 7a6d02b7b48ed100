"""The Dutch catalogue covers every text the interface can show, with matching placeholders."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from stadslab.web import i18n

WEB = Path(str(resources.files("stadslab.web")))
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _extracted() -> set:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true",
                                        "lstrip_blocks": "true"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(str(WEB), method_map, options, keywords):
        found.add(message)
    return found


def _catalogue(lang: str):
    with i18n.catalogue_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang)


def test_extraction_finds_the_interface_texts():
    messages = _extracted()
    assert "Skip to main content" in messages
    assert "Scaled up" in messages  # marked with N_ in vocabulary.py
    assert len(messages) > 100


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_text_is_in_the_catalogue(lang):
    catalogue = _catalogue(lang)
    missing = [m for m in _extracted() if catalogue.get(m[0] if isinstance(m, tuple) else m) is None]
    assert not missing, f"run pybabel update (see web/README.md); missing in {lang}: {missing[:10]}"


def test_every_dutch_text_is_translated_with_the_same_placeholders():
    catalogue = _catalogue("nl")
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated: {ids[0]!r}"
        wanted = set(PLACEHOLDER.findall(ids[0]))
        for s in strings:
            assert set(PLACEHOLDER.findall(s)) == wanted, f"placeholders differ in {ids[0]!r}"


def test_compiled_catalogues_translate():
    assert i18n.translations("nl").gettext("Skip to main content") == "Direct naar de inhoud"
    assert i18n.translations("en").gettext("Skip to main content") == "Skip to main content"
    assert i18n.translations("nl").ngettext("%(n)s living lab", "%(n)s living labs", 2) == "%(n)s proeftuinen"


def test_dates_and_numbers_follow_the_language():
    from datetime import date

    assert i18n.format_date(date(2024, 3, 15), "nl") == "15 maart 2024"
    assert i18n.format_date(date(2024, 3, 15), "en") == "March 15, 2024"
    assert i18n.format_number(1234567.5, "nl") == "1.234.567,5"
    assert i18n.format_number(1234567.5, "en") == "1,234,567.5"
    assert i18n.format_number(None, "nl") == ""
