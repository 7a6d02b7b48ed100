"""Command-line search: ``stadslab search QUERY`` and ``stadslab search-rebuild``.

The integrator mounts ``app`` (or calls ``search_command``/``rebuild_command``)
from the main CLI. Text from the index is shown as plain text: snippets are
converted from our escaped ``<mark>`` HTML to rich ``Text`` objects, so that
brackets in project text can never be read as console markup.
"""

from __future__ import annotations

import html
import re
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from stadslab.core.errors import StadslabError

app = typer.Typer(help="Search the knowledge base.", no_args_is_help=True)
_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


def marked_text(fragment: str, style: str = "bold yellow") -> Text:
    """Our snippet HTML (escaped text plus <mark>) as rich Text."""
    out = Text()
    pos = 0
    for m in _MARK.finditer(fragment or ""):
        out.append(html.unescape(fragment[pos:m.start()]))
        out.append(html.unescape(m.group(1)), style=style)
        pos = m.end()
    out.append(html.unescape((fragment or "")[pos:]))
    return out


def results_table(res) -> Table:
    about = "≈ " if res.total_is_estimate else ""
    table = Table(title=f"{about}{res.total} result(s) for {res.query!r}", show_lines=False)
    for col in ("type", "id", "title", "city", "status", "snippet"):
        table.add_column(col, overflow="fold")
    for item in res.items:
        table.add_row(Text(item.type), Text(str(item.id)), marked_text(item.title_html),
                      Text(item.city_code or ""), Text(item.status or ""), marked_text(item.snippet))
    return table


def facets_table(res) -> Table:
    table = Table(title="Facets (estimated from a sample)" if res.facets_estimated else "Facets")
    table.add_column("facet")
    table.add_column("values (count)", overflow="fold")
    for name, counts in res.facets.items():
        labels = res.facet_labels.get(name, {})
        shown = ", ".join(f"{labels.get(v, v)} ({n})" for v, n in list(counts.items())[:12])
        more = f" … +{len(counts) - 12}" if len(counts) > 12 else ""
        table.add_row(Text(name), Text(shown + more))
    return table


def _database(database_url: str | None):
    from stadslab.core.config import get_settings
    from stadslab.core.database import Database

    return Database(database_url or get_settings().database_url)


def search_command(query: str, *, types: list[str] | None = None, themes: list[str] | None = None,
                   cities: list[str] | None = None, statuses: list[str] | None = None, limit: int = 10,
                   offset: int = 0, lang: str = "nl", facets: bool = False, database_url: str | None = None,
                   console: Console | None = None) -> int:
    """Run a search and print it; returns a process exit code (2 for bad input)."""
    from stadslab.search.service import search

    console = console or Console()
    db = _database(database_url)
    try:
        with db.session() as session:
            res = search(session, query, types=types, themes=themes, cities=cities, statuses=statuses,
                         limit=limit, offset=offset, lang=lang, with_facets=facets)
    except StadslabError as exc:
        console.print(Text(exc.detail, style="red"))
        return 2
    finally:
        db.dispose()
    console.print(results_table(res))
    if res.note:
        console.print(Text(res.note, style="italic"))
    if facets:
        console.print(facets_table(res))
    return 0


def rebuild_command(*, database_url: str | None = None, console: Console | None = None) -> dict[str, int]:
    """Rebuild the whole index in one transaction and print the document counts."""
    from stadslab.search.indexer import rebuild_index

    console = console or Console()
    db = _database(database_url)
    try:
        with db.session() as session:
            counts = rebuild_index(session)
            session.commit()
    finally:
        db.dispose()
    console.print(Text("Search index rebuilt: " + ", ".join(f"{n} {t}" for t, n in counts.items())))
    return counts


@app.command("query")
def query_cmd(query: str = typer.Argument(..., help="Words to find; \"quoted words\" as a phrase"),
              type_: Optional[list[str]] = typer.Option(None, "--type", help="project, living_lab, solution, "
                                                                            "coalition, lesson"),
              theme: Optional[list[str]] = typer.Option(None, "--theme"),
              city: Optional[list[str]] = typer.Option(None, "--city", help="Municipality code, e.g. GM0363"),
              status: Optional[list[str]] = typer.Option(None, "--status"),
              limit: int = typer.Option(10, min=1, max=100), offset: int = typer.Option(0, min=0),
              lang: str = typer.Option("nl"), facets: bool = typer.Option(False, "--facets")) -> None:
    """Search projects, living labs, solutions, coalitions and lessons."""
    code = search_command(query, types=type_, themes=theme, cities=city, statuses=status, limit=limit,
                          offset=offset, lang=lang, facets=facets)
    raise typer.Exit(code)


@app.command("rebuild")
def rebuild_cmd() -> None:
    """Rebuild the search index from the registry."""
    rebuild_command()
