"""What a capability adds to the app, declared in one place, and how the app walks those declarations.

Each capability package has a ``contribution.py`` with one :class:`Contribution`: its routes
with their prefixes, a setup hook for assembly time, and start/stop hooks for the app's
lifespan. ``stadslab.app.create_app`` lists the contributions in order and walks that list,
so wiring a capability in means adding it to the list, not editing three places.

The order of routes is behaviour (the first route that matches wins, and the OpenAPI
document lists paths in route order), so routes are placed in :class:`Stage` order first
and in list order within a stage. Core knows only this shape; the capabilities import it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from fastapi import APIRouter, FastAPI

Hook = Callable[[FastAPI], Awaitable[None] | None]


class Stage(IntEnum):
    """Where a capability's routes go in the route table."""

    #: Before every other route: high-rate requests (the hub's single Observation POSTs and
    #: newest pages) then match at once instead of after the rest of the table.
    HOT = 0
    #: The JSON API and the probes, in the order of the capability list.
    API = 1
    #: Roots outside the API (the OGC API at /ogcapi, the web pages at /): the site's paths are
    #: the broadest, so they come after everything more specific.
    OUTSIDE_API = 2


@dataclass(frozen=True)
class Routes:
    """A router under a prefix, or an ASGI app (static files) mounted at a path, at one stage."""

    target: APIRouter | Any
    prefix: str = ""
    stage: Stage = Stage.API
    #: The route name of a mounted app (``url_for("static", ...)``); routers name their own routes.
    name: str | None = None

    def add_to(self, app: FastAPI) -> None:
        if isinstance(self.target, APIRouter):
            app.include_router(self.target, prefix=self.prefix)
        else:
            app.mount(self.prefix, self.target, name=self.name)


@dataclass(frozen=True)
class Contribution:
    """Everything one capability adds to the app."""

    name: str
    routes: tuple[Routes, ...] = ()
    #: At assembly, after the core's error handlers and middlewares: app state, engine functions,
    #: hooks that core calls back (the authenticator), wrappers of the error handlers.
    setup: Callable[[FastAPI], None] | None = None
    #: At the start of the lifespan, in list order.
    start: Hook | None = None
    #: At the end of the lifespan, in reverse list order (a capability stops before those it uses).
    stop: Hook | None = None


def set_up(app: FastAPI, contributions: Sequence[Contribution]) -> None:
    for contribution in contributions:
        if contribution.setup is not None:
            contribution.setup(app)


def include_routes(app: FastAPI, contributions: Sequence[Contribution]) -> None:
    for stage in Stage:
        for contribution in contributions:
            for routes in contribution.routes:
                if routes.stage is stage:
                    routes.add_to(app)


async def start(app: FastAPI, contributions: Sequence[Contribution]) -> None:
    for contribution in contributions:
        await _call(contribution.start, app)


async def stop(app: FastAPI, contributions: Sequence[Contribution]) -> None:
    for contribution in reversed(contributions):
        await _call(contribution.stop, app)


async def _call(hook: Hook | None, app: FastAPI) -> None:
    if hook is not None:
        result = hook(app)
        if inspect.isawaitable(result):
            await result
