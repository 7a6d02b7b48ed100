"""``stadslab evaluate PROJECT`` and ``stadslab advise SOLUTION``: the same services as the API."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

err = Console(stderr=True)
LANGS = ("nl", "en")


def _session_scope():
    from stadslab.core.config import get_settings
    from stadslab.core.database import Database
    from stadslab.core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    return Database(settings.database_url)


def _find(session, model, ref: str, field: str, what: str):
    from sqlalchemy import select

    if ref.isdigit():
        obj = session.get(model, int(ref))
    else:
        found = session.scalars(select(model).where(getattr(model, field) == ref)).all()
        obj = found[0] if len(found) == 1 else None
        if len(found) > 1:
            err.print(f"[red]{len(found)} {what}s are called {ref!r}; give the id[/red]")
            raise typer.Exit(2)
    if obj is None:
        err.print(f"[red]No {what} {ref!r} (give an id or the exact {field})[/red]")
        raise typer.Exit(2)
    return obj


def evaluate(project: str = typer.Argument(..., help="Project id or exact title"),
             lang: str = typer.Option("nl", help="Language of the verdicts: nl or en")) -> None:
    """Evaluate a project's experiment design on the sensor data now and store the result."""
    from stadslab.core.errors import StadslabError
    from stadslab.evidence.service import run_evaluation
    from stadslab.labs.models import Project

    lang = lang if lang in LANGS else "nl"
    db = _session_scope()
    with db.session() as s:
        p = _find(s, Project, project, "title", "project")
        try:
            ev = run_evaluation(s, p.id)
        except StadslabError as exc:
            err.print(f"[red]{exc.detail}[/red]")
            for e in exc.errors[:20]:
                err.print(f"  {e.get('field')}: {e.get('msg')}")
            raise typer.Exit(1) from None
        table = Table(title=f"Evaluation #{ev.id} of {p.title}")
        for col in ("KPI", "status", "effect", "interval", "verdict"):
            table.add_column(col)
        for k in ev.results["kpis"]:
            eff = k.get("effect")
            table.add_row(k["name"][lang], k["status"], f"{eff['estimate']:+.3g} {k['unit']}" if eff else "—",
                          f"{eff['low']:+.3g} … {eff['high']:+.3g}" if eff else "—", k.get("verdict") or "—")
        Console().print(table)
        for k in ev.results["kpis"]:
            typer.echo((k["verdict_text"] or {}).get(lang) or " ".join(m[lang] for m in k["messages"]))
    db.dispose()


def advise(solution: str = typer.Argument(..., help="Solution id or exact name"),
           limit: int = typer.Option(10, min=1, max=100), lang: str = typer.Option("nl", help="nl or en")) -> None:
    """Rank the municipalities where a solution is most likely to work next, with reasons."""
    from stadslab.evidence.advice import advise as run_advice
    from stadslab.labs.models import Solution

    lang = lang if lang in LANGS else "nl"
    db = _session_scope()
    with db.session() as s:
        sol = _find(s, Solution, solution, "name", "solution")
        res = run_advice(s, sol.id, limit=limit, lang=lang)
    db.dispose()
    if not res["recommendations"]:
        typer.echo(res.get("message", {}).get(lang, "No advice."))
        return
    table = Table(title=f"Where {sol.name} fits next")
    for col in ("#", "municipality", "score", "why"):
        table.add_column(col)
    for r in res["recommendations"]:
        table.add_row(str(r["rank"]), r["municipality"]["name"], f"{r['score']:.3f}", r["explanation"])
    Console(width=160).print(table)
