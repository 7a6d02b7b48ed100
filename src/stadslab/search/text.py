"""Text analysis shared by indexing and querying: one function decides what a word is.

The knowledge base is bilingual (mostly Dutch, partly English, often mixed in
one text), and we cannot know per word which language it is. So every word is
stemmed with *both* Snowball stemmers and the document is indexed under both
stems; a query word matches when any of its stems is present. The Dutch stem is
the word's *primary* form: documents store the primary stems in text order (so
phrases and term frequencies work) and the remaining variants once each.

Because queries go through exactly the same analysis as documents, both
database backends see only our own tokens: plain runs of Unicode letters and
digits, never an operator, quote or other syntax a user typed.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer


class _ThreadStemmers(threading.local):
    """Snowball stemmer objects keep state while they stem: one pair per thread (requests run in
    a thread pool; a shared pair raised IndexError under concurrent searches)."""

    def __init__(self) -> None:
        self.dutch = snowballstemmer.stemmer("dutch")
        self.english = snowballstemmer.stemmer("english")


_STEMMERS = _ThreadStemmers()

#: A token is a run of Unicode letters or digits (``_`` and punctuation split words).
TOKEN_RE = re.compile(r"[^\W_]+")
#: Longer "words" are almost always garbage (hashes, base64, URLs glued together).
MAX_TOKEN_LEN = 40
#: Tokens we generate ourselves start with this; no Dutch or English word does, and
#: the analyser drops any such token from user text so that it cannot collide.
RESERVED_PREFIX = "qq"
TITLE_PREFIX = RESERVED_PREFIX + "t"
PARENT_PREFIX = RESERVED_PREFIX + "p"

#: Deliberately short: only words so frequent that they carry no meaning and
#: would make posting lists huge. Words that are common in one language but
#: meaningful in the other are left out ("men", "want", "arm", "brand", "die"
#: is in: in this corpus it is the Dutch pronoun far more often than the verb).
STOPWORDS_NL = frozenset("""
    de het een en van in op te dat die dit deze is zijn was waren wordt worden werd
    met voor aan er om als bij of ook door naar uit dan maar nog wel niet al
    hun ze zij we wij hij ik je u tot over onder na zo kan kunnen moet heeft hebben
    wat hoe waar wie welke zich haar hem ons onze jullie geen meer
""".split())
STOPWORDS_EN = frozenset("""
    a an the and or not of to in on at for with by from is are was were be been being
    it its this that these those as into than then there their they we you he she our
    your but if so such do does did has have had can will would should could may
""".split())
STOPWORDS = STOPWORDS_NL | STOPWORDS_EN

# --- agent nouns ---------------------------------------------------------------------
# Snowball keeps agent nouns apart from what they do: "fietsers" stems to "fietser",
# "fietsen" to "fiets"; "cyclists" to "cyclist", "cycling" to "cycl". Searchers expect
# them to meet, so we add a reduced variant:
#   * Dutch primary stem ending in "-er" with at least 4 letters before it: add the
#     remainder and the Dutch stem of remainder + "en" (the verb: "bewoner" → "bewon",
#     "bewoon" = stem of "bewonen"; "fietser" → "fiets"). This also joins English
#     "-er" words with their verbs ("developer" → "develop").
#   * Any stem ending in "-ist" with at least 4 letters before it: add the remainder
#     ("cyclist" → "cycl", "toerist" → "toer", "specialist" → "special").
# The 4-letter minimum keeps short words whole ("water" is not "wat", "ouder" is not
# "oud", "later" is not "lat"); the exception lists hold longer words that only look
# like agent nouns and would otherwise merge with an unrelated word.
_ER_EXCEPTIONS = frozenset("""
    winter router poster monster filter cluster number member letter matter master
    border center container minder wonder tender helder burger hamburger groter
    zilver silver river never together whether weather rather either neither
    whatever however wander ladder lever cover
""".split())
_IST_EXCEPTIONS = frozenset("consist persist subsist checklist playlist wishlist shortlist".split())
_MIN_REMAINDER = 4


def fold(text: str) -> str:
    """Lower-case and strip diacritics ("Café" → "cafe", "ideeën" → "ideeen")."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _agent_reductions(nl: str, en: str) -> list[str]:
    out: list[str] = []
    if nl.endswith("er") and nl not in _ER_EXCEPTIONS and len(nl) - 2 >= _MIN_REMAINDER:
        remainder = nl[:-2]
        out.append(remainder)
        for variant in (_STEMMERS.dutch.stemWord(remainder + "en"), _STEMMERS.dutch.stemWord(remainder)):
            if len(variant) >= _MIN_REMAINDER:
                out.append(variant)
    for stem in (en, nl):
        if stem.endswith("ist") and stem not in _IST_EXCEPTIONS and len(stem) - 3 >= _MIN_REMAINDER:
            out.append(stem[:-3])
    return out


_VOWELS = frozenset("aeiouy")


def _uninflected(base: str) -> str:
    """Undo Dutch adjective spelling after dropping the inflection -e.

    The new Snowball Dutch stemmer leaves "slimme", "groene", "grote" whole, so
    "slimme" would not find "slim". We add the stem of the uninflected spelling:
    a doubled consonant is halved ("slimm" → "slim") and a single vowel in a
    closed final syllable is doubled back ("grot" → "groot", "duurzam" → "duurzaam").
    """
    if len(base) >= 3 and base[-1] == base[-2] and base[-1] not in _VOWELS:
        return base[:-1]
    if (len(base) >= 3 and base[-1] not in _VOWELS and base[-2] in "aou"
            and base[-3] not in _VOWELS):
        return base[:-1] + base[-2] + base[-1]
    return base


@dataclass(frozen=True)
class Word:
    """One analysed word: its primary stem and every form it may be found under."""

    primary: str
    forms: tuple[str, ...]


def _keep(word: str) -> bool:
    if len(word) > MAX_TOKEN_LEN or word.startswith(RESERVED_PREFIX) or word in STOPWORDS:
        return False
    return len(word) >= 2 or word.isdigit()


@lru_cache(maxsize=262_144)
def analyse_token(token: str) -> tuple[Word, ...]:
    """Analyse one surface token (as matched by ``TOKEN_RE``); cached, since vocabularies are small."""
    words = []
    for word in TOKEN_RE.findall(fold(token)):
        if not _keep(word):
            continue
        if any(c.isdigit() for c in word):
            words.append(Word(word, (word,)))
            continue
        nl = _STEMMERS.dutch.stemWord(word)
        en = _STEMMERS.english.stemWord(word)
        forms = dict.fromkeys([nl, en, *_agent_reductions(nl, en)])
        if word.endswith("e") and len(word) >= 5:
            forms[_STEMMERS.dutch.stemWord(_uninflected(word[:-1]))] = None
        if word.endswith("en") and len(word) >= 6:
            # The stemmer restores a long vowel in plurals ("sensoren" → "sensoor"),
            # which loses the singular "sensor": add the stem of the bare remainder.
            forms[_STEMMERS.dutch.stemWord(word[:-2])] = None
        if word.endswith("s") and nl == word[:-1]:
            # The Dutch stemmer drops a final -s after a consonant, so "fiets" becomes
            # "fiet" while "fietsen" becomes "fiets": keep the whole word as a form too.
            forms[word] = None
        words.append(Word(nl, tuple(f for f in forms if f)))
    return tuple(words)


def _nfc(text: str) -> str:
    # Decomposed input ("e" + combining accent) must not split a word in two.
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def analyse(text: str) -> list[Word]:
    """All indexable words of ``text``, in order."""
    out: list[Word] = []
    for token in TOKEN_RE.findall(_nfc(text or "")):
        out.extend(analyse_token(token))
    return out


_STEMS_CACHE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
_STEMS_CACHE_MAX = 500_000


def _token_stems(token: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(primary stems, all forms) of a surface token: the indexer's hot path, so a plain dict."""
    hit = _STEMS_CACHE.get(token)
    if hit is None:
        words = analyse_token(token)
        hit = (tuple(w.primary for w in words), tuple(f for w in words for f in w.forms))
        if len(_STEMS_CACHE) >= _STEMS_CACHE_MAX:
            _STEMS_CACHE.clear()
        _STEMS_CACHE[token] = hit
    return hit


def _infos(text: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    get = _STEMS_CACHE.get
    return [get(t) or _token_stems(t) for t in TOKEN_RE.findall(_nfc(text))] if text else []


def stems_for(*, title: str, body: str, context: str = "", markers: tuple[str, ...] = ()) -> str:
    """The ``stems`` column of a search document.

    Layout, space separated: the primary stems of title, body and context in text
    order (so phrase queries and term frequencies work), then every other variant
    once, then the title-boost tokens (``qqt`` + each form of each title word: these
    are rare, hence high-weight in BM25 and ts_rank, and only a query word that
    occurs in the title can hit them), then internal markers.
    """
    title_infos = _infos(title)
    infos = title_infos + _infos(body) + _infos(context)
    primary = [p for info in infos for p in info[0]]
    # The indexer's hot path (200,000 documents per import): plain loops over the
    # distinct tokens, not generator chains.
    seen = set(primary)
    extra = []
    for info in dict.fromkeys(infos):
        for f in info[1]:
            if f not in seen:
                seen.add(f)
                extra.append(f)
    boost = [TITLE_PREFIX + f for f in dict.fromkeys([f for info in title_infos for f in info[1]])]
    return " ".join([*primary, *extra, *boost, *markers])


def title_stems_for(title: str) -> str:
    """Every form of every title word, once each, space separated (``search_documents.title_stems``).

    The same forms as the title-boost tokens in ``stems``, without their prefix:
    PostgreSQL ranks the title tier on a small vector made from these.
    """
    return " ".join(dict.fromkeys([f for info in _infos(title) for f in info[1]]))


# --- queries -------------------------------------------------------------------------

_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"',
                         "\u00bb": '"', "\u2033": '"'})
_PHRASE_RE = re.compile(r'"([^"]*)"')


@dataclass(frozen=True)
class Term:
    """A query word: matches when any of its forms occurs."""

    text: str
    forms: tuple[str, ...]


@dataclass(frozen=True)
class Phrase:
    """Quoted words that must occur next to each other (stopwords are skipped on both sides)."""

    text: str
    stems: tuple[str, ...]
    forms: tuple[str, ...]


@dataclass
class ParsedQuery:
    terms: list[Term] = field(default_factory=list)
    phrases: list[Phrase] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.terms and not self.phrases

    @property
    def size(self) -> int:
        return len(self.terms) + sum(len(p.stems) for p in self.phrases)

    def highlight_forms(self) -> frozenset[str]:
        """Every stem whose occurrence in a text counts as a hit (for snippets)."""
        forms = {f for t in self.terms for f in t.forms}
        forms.update(f for p in self.phrases for f in p.forms)
        return frozenset(forms)

    def describe(self) -> list[str]:
        return [t.text for t in self.terms] + [f'"{p.text}"' for p in self.phrases]


def _clean(query: str) -> str:
    # Control characters (NUL included) never reach a database; they just separate words.
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in query)


def parse_query(query: str) -> ParsedQuery:
    """Split a user query into words (all must match) and quoted phrases.

    A balanced pair of double quotes makes a phrase; an unbalanced quote is just
    punctuation. A quoted single word is an ordinary word. Nothing else in the
    query has meaning: ``AND``, ``*``, ``-``, ``NEAR(`` are words or punctuation.
    """
    text = _clean(query).translate(_QUOTES)
    parsed = ParsedQuery()
    seen_terms: set[tuple[str, ...]] = set()
    seen_phrases: set[tuple[str, ...]] = set()

    def add_terms(fragment: str) -> None:
        for token in TOKEN_RE.findall(_nfc(fragment)):
            for word in analyse_token(token):
                if word.forms not in seen_terms:
                    seen_terms.add(word.forms)
                    parsed.terms.append(Term(fold(token), word.forms))

    pos = 0
    for m in _PHRASE_RE.finditer(text):
        add_terms(text[pos:m.start()])
        pos = m.end()
        words = analyse(m.group(1))
        if len(words) == 1:
            add_terms(m.group(1))
        elif len(words) > 1:
            stems = tuple(w.primary for w in words)
            if stems not in seen_phrases:
                seen_phrases.add(stems)
                forms = tuple(dict.fromkeys(f for w in words for f in w.forms))
                parsed.phrases.append(Phrase(" ".join(m.group(1).split()), stems, forms))
    add_terms(text[pos:])
    return parsed
