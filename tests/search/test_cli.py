"""The CLI helpers print what the service found, without interpreting project text as markup."""

from __future__ import annotations

from rich.console import Console

from stadslab.search.cli import marked_text, rebuild_command, search_command

from . import helpers as h


def test_search_command_prints_results_and_facets(db, session):
    h.project(session, "Fietsen [bold]nu[/bold]", "Tellen van fietsers bij het station.", city=h.UTRECHT)
    console = Console(record=True, width=200)
    assert search_command("fietsers", facets=True, database_url=db.url, console=console) == 0
    out = console.export_text()
    assert "1 result(s) for 'fietsers'" in out
    assert "Fietsen [bold]nu[/bold]" in out  # literal, not styled
    assert "GM0344" in out and "Utrecht (1)" in out


def test_search_command_reports_bad_input(db):
    console = Console(record=True, width=200)
    assert search_command("   ", database_url=db.url, console=console) == 2
    assert "enter one or more words" in console.export_text()


def test_rebuild_command(db, session):
    h.project(session, "Project", "Tekst.", lessons=("Les.",), index=False)
    counts = rebuild_command(database_url=db.url, console=Console(record=True))
    assert counts["project"] == 1 and counts["lesson"] == 1


def test_marked_text_styles_only_marked_words():
    text = marked_text("a &lt;b&gt; <mark>fiets</mark> [x]")
    assert text.plain == "a <b> fiets [x]"
    assert [(text.plain[s.start:s.end], s.style) for s in text.spans] == [("fiets", "bold yellow")]


def test_stadslab_search_prints_the_same_table(db, session, monkeypatch):
    """`stadslab search` is the search command of the package's CLI (not a second implementation)."""
    from typer.testing import CliRunner

    from stadslab.cli import app
    from stadslab.core.config import get_settings

    h.project(session, "Slimme lantaarnpalen", "Lantaarnpalen die dimmen als niemand fietst.", city=h.UTRECHT)
    monkeypatch.setenv("STADSLAB_DATABASE_URL", db.url)
    get_settings.cache_clear()
    try:
        ok = CliRunner().invoke(app, ["search", "lantaarnpaal", "--facets"])
        bad = CliRunner().invoke(app, ["search", "   "])
    finally:
        get_settings.cache_clear()
    assert ok.exit_code == 0, ok.output
    assert "1 result(s) for 'lantaarnpaal'" in ok.output and "Slimme lantaarnpalen" in ok.output
    assert "Utrecht (1)" in ok.output
    assert bad.exit_code == 2 and "enter one or more words" in bad.output
