"""Themes as bits of one integer (``search_documents.themes_mask``).

Facet counting then groups by a narrow integer (a few hundred distinct
combinations) and a theme filter is ``themes_mask & :bits <> 0``, instead of
substring tests on a string column. Bits are handed out once per theme code
and never change, so stored masks stay valid when themes are added or
reordered; a code seen for the first time gets the next free bit inside the
caller's transaction. A BIGINT holds 63 usable bits: more distinct theme codes
than that is refused with a clear error rather than silently mis-counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from stadslab.network.models import Theme
from stadslab.search.models import SearchThemeBit

MAX_BITS = 63


class TooManyThemes(RuntimeError):
    pass


def theme_bits(session: Session, needed: Iterable[str] = ()) -> dict[str, int]:
    """code → bit for every known code, giving bits to ``needed`` codes that have none yet (in that order)."""
    bits = dict(session.execute(select(SearchThemeBit.code, SearchThemeBit.bit)).all())
    missing = [code for code in dict.fromkeys(needed) if code not in bits]
    if missing:
        first = max(bits.values(), default=-1) + 1
        if first + len(missing) > MAX_BITS:
            raise TooManyThemes(f"search supports at most {MAX_BITS} theme codes; "
                                f"cannot index {', '.join(missing[:5])}")
        new = {code: first + i for i, code in enumerate(missing)}
        session.execute(insert(SearchThemeBit), [{"code": c, "bit": b} for c, b in new.items()])
        bits.update(new)
    return bits


def all_theme_bits(session: Session) -> dict[str, int]:
    """Bits for every theme of the reference table, in its order; used by the bulk rebuild."""
    codes = list(session.scalars(select(Theme.code).order_by(Theme.position, Theme.code)))
    return theme_bits(session, codes[:MAX_BITS]) if codes else theme_bits(session)


def mask_of(themes: str, bits: Mapping[str, int]) -> int:
    """Mask of a space-separated ``themes`` field; every code must have a bit."""
    mask = 0
    for code in themes.split():
        mask |= 1 << bits[code]
    return mask


def codes_of(mask: int, by_bit: Mapping[int, str]) -> list[str]:
    out, bit = [], 0
    while mask:
        if mask & 1 and bit in by_bit:
            out.append(by_bit[bit])
        mask >>= 1
        bit += 1
    return out
