"""Highlighted excerpts, computed in Python for the returned page only.

A word is highlighted when its analysis shares a form with the query (so
"fietsers" lights up for the query "fiets", as it was found for it). Output is
HTML-escaped text in which only ``<mark>`` and ``</mark>`` are markup.
"""

from __future__ import annotations

import html
import re
import unicodedata

from stadslab.search.text import TOKEN_RE, analyse_token

#: Long bodies are only scanned this far for a good excerpt.
SCAN_CHARS = 50_000
_SPACE = re.compile(r"\s+")


def _nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _is_hit(token: str, forms: frozenset[str]) -> bool:
    return any(not forms.isdisjoint(w.forms) for w in analyse_token(token))


def _render(text: str, spans: list[tuple[int, int, bool]], start: int, end: int) -> str:
    out, pos = [], start
    for s, e, hit in spans:
        if not hit or e <= start or s >= end:
            continue
        out.append(html.escape(_SPACE.sub(" ", text[pos:s])))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        pos = e
    out.append(html.escape(_SPACE.sub(" ", text[pos:end])))
    return "".join(out)


def highlight(text: str, forms: frozenset[str]) -> str:
    """The whole (short) text, escaped, with hits marked: for titles."""
    text = _nfc(text or "")
    spans = [(m.start(), m.end(), _is_hit(m.group(), forms)) for m in TOKEN_RE.finditer(text)]
    return _render(text, spans, 0, len(text))


def snippet(body: str, forms: frozenset[str], *, width: int = 240, lead_words: int = 6) -> str:
    """An excerpt of about ``width`` characters around the densest cluster of hits.

    Starts at a word boundary a few words before the first hit of that cluster
    and ends at a word boundary; an ellipsis marks cut text.
    """
    text = _nfc(body or "").strip()
    if not text:
        return ""
    scanned = text[:SCAN_CHARS]
    tokens = [(m.start(), m.end(), _is_hit(m.group(), forms)) for m in TOKEN_RE.finditer(scanned)]
    hits = [i for i, t in enumerate(tokens) if t[2]]
    if hits:
        best, best_count, j = hits[0], 0, 0
        for k, i in enumerate(hits):
            limit = tokens[i][0] + width * 2 // 3
            j = max(j, k)
            while j < len(hits) and tokens[hits[j]][0] < limit:
                j += 1
            if j - k > best_count:
                best, best_count = i, j - k
        first = max(0, best - lead_words)
        start = tokens[first][0] if first > 0 else 0
    else:
        start = 0
    end = len(text)
    if end - start > width:
        end = start + width
        inside = [t for t in tokens if t[0] >= start and t[1] <= end]
        if inside:
            end = inside[-1][1]
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    return prefix + _render(text, tokens, start, end).strip() + suffix
