"""Which open funding calls fit a project, and which projects fit a call, with the reasons.

The score has two parts:

* theme overlap: shared themes / themes of the smaller side (a call on one theme
  that a project has is a full theme match, however many other themes the project has);
* text similarity: cosine of TF-IDF vectors over the *stemmed* words of title and
  description, analysed exactly as the search capability does (``stadslab.search.text``),
  so "fietsers" in a project meets "fietsen" in a call, in Dutch and English alike.

``score = THEME_WEIGHT * theme + (1 - THEME_WEIGHT) * text``. IDF is computed over the
documents being compared (all open calls plus the projects in question), so a word
every call uses ("project", "stad") weighs little. Small and dependency-free: a few
hundred documents of a few hundred words each.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from stadslab.search.text import TOKEN_RE, analyse_token

THEME_WEIGHT = 0.5
MIN_SCORE = 0.05
MAX_TERMS_SHOWN = 5


@dataclass
class Doc:
    key: object
    themes: set[str]
    terms: Counter
    #: a readable surface word per stem, for explanations
    surface: dict[str, str]


def analyse_doc(key: object, text: str, themes: set[str]) -> Doc:
    terms: Counter = Counter()
    surface: dict[str, str] = {}
    for token in TOKEN_RE.findall(text or ""):
        low = token.lower()
        for word in analyse_token(token):
            if word.primary.isdigit():
                continue
            # every form, not only the primary stem: "fietsers" (fietser, fiets) meets "fietsen" (fiets)
            for form in word.forms:
                terms[form] += 1
                if form not in surface or len(low) < len(surface[form]):
                    surface[form] = low
    return Doc(key, set(themes), terms, surface)


def idf(docs: list[Doc]) -> dict[str, float]:
    df: Counter = Counter()
    for d in docs:
        df.update(d.terms.keys())
    n = len(docs)
    return {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items()}


def _vector(d: Doc, weights: dict[str, float]) -> dict[str, float]:
    vec = {t: (1 + math.log(c)) * weights.get(t, 1.0) for t, c in d.terms.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {t: v / norm for t, v in vec.items()}


@dataclass
class Match:
    score: float
    theme_score: float
    text_score: float
    shared_themes: list[str]
    common_terms: list[str]


def compare(a: Doc, b: Doc, weights: dict[str, float]) -> Match:
    shared = sorted(a.themes & b.themes)
    smaller = min(len(a.themes), len(b.themes))
    theme_score = len(shared) / smaller if smaller else 0.0
    va, vb = _vector(a, weights), _vector(b, weights)
    contributions = {t: va[t] * vb[t] for t in va.keys() & vb.keys()}
    text_score = min(1.0, sum(contributions.values()))
    ranked = sorted(contributions, key=lambda t: (-contributions[t], t))
    common = list(dict.fromkeys(b.surface.get(t) or a.surface.get(t) or t for t in ranked))[:MAX_TERMS_SHOWN]
    score = THEME_WEIGHT * theme_score + (1 - THEME_WEIGHT) * text_score
    return Match(round(score, 4), round(theme_score, 4), round(text_score, 4), shared, common)


def explain(m: Match, days_left: int | None) -> str:
    parts = []
    if m.shared_themes:
        parts.append(f"shares theme{'s' if len(m.shared_themes) > 1 else ''} {', '.join(m.shared_themes)}")
    if m.common_terms:
        parts.append(f"common terms: {', '.join(m.common_terms)}")
    if days_left is not None:
        if days_left <= 0:
            parts.append("deadline today")
        else:
            parts.append(f"deadline in {days_left} day{'s' if days_left != 1 else ''}")
    return "; ".join(parts) or "no shared themes or terms"


def rank(query: Doc, candidates: list[Doc], corpus: list[Doc]) -> list[tuple[Doc, Match]]:
    weights = idf(corpus)
    out = []
    for c in candidates:
        m = compare(query, c, weights)
        if m.score >= MIN_SCORE and (m.shared_themes or m.common_terms):
            out.append((c, m))
    out.sort(key=lambda cm: (-cm[1].score, str(cm[0].key)))
    return out


def now_utc() -> datetime:
    from stadslab.core.database import utcnow

    return utcnow()
