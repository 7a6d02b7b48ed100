"""Errors of the ``$filter`` language, as 400 responses that say what and where.

They subclass :class:`~stadslab.core.errors.BadRequest`, so a route that lets
them propagate gets an application/problem+json answer without extra code.
Positions are 0-based offsets into the filter text; messages speak in 1-based
columns, which is what a person counts in a URL.
"""

from __future__ import annotations

from stadslab.core.errors import BadRequest, field_error


class FilterError(BadRequest):
    """Anything wrong with a ``$filter``: the client sent it, the client can fix it."""

    kind = "filter"

    def __init__(self, message: str, position: int | None = None):
        self.message = message
        self.position = position
        self.column = None if position is None or position < 0 else position + 1
        where = f" (at column {self.column})" if self.column is not None else ""
        detail = f"$filter: {message}{where}"
        super().__init__(detail, errors=[field_error(["query", "$filter"], f"{message}{where}")])


class FilterSyntaxError(FilterError):
    """The text is not a ``$filter`` expression (or is too long / too deeply nested)."""


class FilterCompileError(FilterError):
    """The expression is well formed but means nothing here: unknown property, mixed types."""
