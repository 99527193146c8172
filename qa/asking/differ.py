"""Where the sources disagree: the value a question asks for (a count, a date, a name), read
from each answering sentence, and the sentences of other articles that give another value.

Nothing is written: a reading only points at words of a stored sentence. A value is the one
the question's own words stand beside (in "the fate of 197 of them remains unknown", 197 for
"How many people's fate remains unknown?"), so a sentence full of figures yields the one that
answers. Two articles disagree only when neither states the other's value anywhere in the
passages retrieved, so a figure about something else ("25 children lost both parents" beside
"63 children" who died) is not taken for a disagreement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from qa.asking.analyse import MONTH_PATTERN, MONTHS, QUANTITY_QUESTION, TIME_QUESTION
from qa.text import terms

_WORD_NUMBERS = {w: i for i, w in enumerate(
    "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty".split(), start=2)}

# What a question asks for: the answer sentence's own cues (analyse.py) for counts and dates.
KINDS = {
    "count": QUANTITY_QUESTION,
    "date": TIME_QUESTION,
    "name": re.compile(r"^\W*(who|whom|whose)\b|\b(who|whom) (is|was|were|are|did|does|had|has)\b", re.I),
}
# A count: digits ("613", "1,275", "2.5", "33-year"), never a year, a day of a month, a time or an
# ordinal; or a number word ("three").
_COUNT = re.compile(rf"(?<![\w.,:/-])(\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?)(?:-[a-z]+)?(?![\w:/-]|[.,]\d)"
                    rf"|\b({'|'.join(_WORD_NUMBERS)})\b", re.I)
_YEAR = re.compile(r"^(1[89]|20)\d\d$")
_MONTH_BEFORE = re.compile(rf"\b({MONTH_PATTERN})\s+$")
_MONTH_AFTER = re.compile(rf"\s+({MONTH_PATTERN})\b")
# A date: "February 25-26, 1992", "24 February 2023", "February 1992", "September 20", "2008".
_DATE = re.compile(rf"\b(?:(\d{{1,2}}(?:-\d{{1,2}})?)\s+({MONTH_PATTERN})(?:,?\s+(\d{{4}}))?"
                   rf"|({MONTH_PATTERN})(?:\s+(\d{{1,2}})(?:-(\d{{1,2}}))?)?(?:,?\s+(\d{{4}}))?"
                   rf"|((?:1[89]|20)\d\d))\b")
# A name: a run of capitalised words, joined by "of", "the", "for", "and", "de".
_NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:(?:of|the|for|and|de)\s+)*[A-Z][\w'’.-]*)*")
_WORD = re.compile(r"\w+")
_CLAUSE = re.compile(r"[,;:()\u2013\u2014]|\s-\s")


# Words that frame a question rather than say what it is about; they anchor no value.
_FRAMING = frozenset(terms("how many much when who whom whose what which them it were been did do does has have "
                           "had those he she his her him we our you your me my"))


def asked(question: str, weights: Mapping[str, float]) -> tuple[str | None, dict[str, float]]:
    """The kind of value the question asks for ("count", "date", "name", or None), and the
    weights of the words that say what it asks about (its framing, "how long", dropped)."""
    for kind, pattern in KINDS.items():
        match = pattern.search(question)
        if match:
            framing = _FRAMING | set(terms(match.group()))
            return kind, {t: w for t, w in weights.items() if t not in framing}
    return None, {}


@dataclass(frozen=True)
class Said:
    """A retrieved sentence: its article, text, score as an answer, and what cites it (`ref`)."""

    doc_id: str
    text: str
    score: float
    ref: Any


@dataclass(frozen=True)
class Reading:
    """The value a sentence gives for the question, and how closely the question's words hold it."""

    value: object  # a number; a (year, month, first day, last day) date; a frozenset of name words
    anchor: float  # 0..1: the question's weighted terms near the value, closer counting more


def values(kind: str, text: str) -> list[tuple[int, int, object]]:
    """Every value of `kind` in `text`: (start, end, normalised value)."""
    found = {"count": _counts, "date": _dates, "name": _names}[kind](text)
    return sorted(found, key=lambda v: v[0])


def _counts(text: str) -> Iterable[tuple[int, int, object]]:
    for m in _COUNT.finditer(text):
        if m.group(2):
            yield m.start(), m.end(), float(_WORD_NUMBERS[m.group(2).lower()])
            continue
        digits = m.group(1)
        if _YEAR.match(digits) or _MONTH_BEFORE.search(text[max(0, m.start() - 12):m.start()]) \
                or _MONTH_AFTER.match(text, m.end()):
            continue  # a year or a day of a month: a date, not a count
        yield m.start(), m.end(), float(digits.replace(",", ""))


def _dates(text: str) -> Iterable[tuple[int, int, object]]:
    for m in _DATE.finditer(text):
        day_first, month_a, year_a, month_b, day_b, last_b, year_b, year_c = m.groups()
        month = month_a or month_b
        days = day_first or (f"{day_b}-{last_b}" if last_b else day_b)
        first, _, last = (days or "").partition("-")
        yield m.start(), m.end(), (int(year_a or year_b or year_c or 0),
                                   MONTHS.index(month.lower()) + 1 if month else 0,
                                   int(first or 0), int(last or first or 0))


def _names(text: str) -> Iterable[tuple[int, int, object]]:
    for m in _NAME.finditer(text):
        words = frozenset(terms(m.group()))
        if words and not (m.start() == 0 and len(words) == 1):  # a sentence's first word is capitalised anyway
            yield m.start(), m.end(), words


def same(kind: str, a: object, b: object) -> bool:
    """Whether two values agree: equal counts; dates with no part in conflict ("February 1992" and
    "February 25-26, 1992"); names sharing a word."""
    if kind == "count":
        return a == b
    if kind == "name":
        return bool(a & b)
    (ya, ma, fa, la), (yb, mb, fb, lb) = a, b
    return ((not ya or not yb or ya == yb) and (not ma or not mb or ma == mb)
            and (not fa or not fb or (fa <= lb and fb <= la)))


def read(kind: str, text: str, weights: Mapping[str, float]) -> Reading | None:
    """The value of `kind` the question's words (`weights`: term -> IDF) stand closest to (a count:
    in the same clause; a date or a name often opens the sentence, so anywhere in it); None when no
    value has a question word near it."""
    total = sum(weights.values())
    if not total:
        return None
    words = [(m.start(), m.end(), next(iter(terms(m.group())), None)) for m in _WORD.finditer(text)]
    cuts = [m.start() for m in _CLAUSE.finditer(text)] if kind == "count" else []
    best: Reading | None = None
    for start, end, value in values(kind, text):
        own = set(terms(text[start:end]))
        clause = _clause(start, cuts)
        anchor = 0.0
        for term, weight in weights.items():
            near = [_distance(start, end, ws, we, words) for ws, we, t in words
                    if t == term and t not in own and _clause(ws, cuts) == clause]
            if near:
                anchor += weight / total / (1 + (min(near) - 1) / 2)
        if anchor > 0 and (best is None or anchor > best.anchor):
            best = Reading(value, round(anchor, 4))
    return best


def _clause(offset: int, cuts: Sequence[int]) -> int:
    return sum(c < offset for c in cuts)


def _distance(start: int, end: int, word_start: int, word_end: int, words: Sequence[tuple]) -> int:
    """Words from a value to a word: 1 for the next word, 2 for the one after."""
    lo, hi = (end, word_start) if word_start >= end else (word_end, start)
    return 1 + sum(lo <= ws < hi for ws, _, _ in words)


# A sentence is another answer to the question when it answers nearly as well as the answer
# (its score at most this much lower) and the question's words hold its value at least this
# share as closely as they hold the answer's. Either value must be held by at least MIN_ANCHOR
# of the question's weight: a value only a word or two of a long question stand near is no
# reading of what it asks (MultiHop-RAG's many-claim questions are never that close).
SCORE_MARGIN = 0.25
ANCHOR_SHARE = 0.5
MIN_ANCHOR = 0.25


def disagreements(question: str, weights: Mapping[str, float], answer: Said, said: Sequence[Said]) -> list[Said]:
    """Sentences of other articles giving another value than `answer` for the question (its terms'
    `weights`), one per value, the value most articles state first (then the better answer); []
    when they agree or the question asks for no value."""
    kind, weights = asked(question, weights)
    ours = read(kind, answer.text, weights) if kind else None
    if ours is None or ours.anchor < MIN_ANCHOR:
        return []
    stated: dict[str, list[object]] = {}
    for s in [answer, *said]:  # every value each article's retrieved sentences state, answering or not
        stated.setdefault(s.doc_id, []).extend(v for _, _, v in values(kind, s.text))
    groups: list[tuple[object, list[Said]]] = []  # (value, the sentences of other articles giving it)
    for s in sorted(said, key=lambda s: -s.score):
        if s.doc_id == answer.doc_id or s.score < answer.score - SCORE_MARGIN:
            continue
        theirs = read(kind, s.text, weights)
        if theirs is None or theirs.anchor < max(MIN_ANCHOR, ANCHOR_SHARE * ours.anchor) \
                or not _conflict(kind, ours.value, theirs.value, stated[answer.doc_id], stated[s.doc_id]):
            continue
        group = next((g for g in groups if same(kind, g[0], theirs.value)), None)
        if group is None:
            groups.append((theirs.value, [s]))
        elif s.doc_id not in {m.doc_id for m in group[1]}:
            group[1].append(s)
    groups.sort(key=lambda g: -len(g[1]))  # stable: equal support keeps the better answer first
    return [members[0] for _, members in groups]


def _conflict(kind: str, ours: object, theirs: object, our_article: Sequence[object],
              their_article: Sequence[object]) -> bool:
    """Two values conflict when they differ and neither article states the other's value."""
    return not (same(kind, ours, theirs) or any(same(kind, theirs, v) for v in our_article)
                or any(same(kind, ours, v) for v in their_article))
