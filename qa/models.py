"""Typed records that flow from articles to index to cited answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Literal, Sequence

# How well the passages support an answer (answer.evidence decides): "strong" quotes the answer,
# "weak" shows the closest passages but quotes none, "none" abstains.
Evidence = Literal["strong", "weak", "none"]
# What a weak reply says before its passages, on the page and in the CLI (the API says it with
# `evidence`).
WEAK_NOTICE = "The articles may not answer this question. The closest passages:"


@dataclass(frozen=True)
class Article:
    """One article as stored. `text` is kept exactly as read; citations slice it.

    For plain-text and Markdown files `text` is the whole file, and the body (what is
    chunked) starts at `body_start`, after the date line or front matter.
    """

    doc_id: str
    path: str
    text: str
    body_start: int = 0
    title: str | None = None
    date: str | None = None
    source: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Filters:
    """Restrictions applied before ranking: a date range, outlets (any case), article ids."""

    date_from: str | None = None
    date_to: str | None = None
    sources: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to or self.sources or self.doc_ids)

    def within_sources(self, named: Sequence[str]) -> "Filters | None":
        """These filters further narrowed to the `named` outlets; None when nothing can pass."""
        if self.sources:
            wanted = {s.lower() for s in self.sources}
            named = [s for s in named if s.lower() in wanted]
        return replace(self, sources=tuple(named)) if named else None


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class Segment:
    """A sentence (or a piece of an over-long sentence): the unit of answers and highlights."""

    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A run of whole segments of one article, within the model's token budget."""

    doc_id: str
    start: int
    end: int
    text: str
    seg_first: int
    seg_last: int


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str | None
    source: str | None
    date: str | None
    path: str
    chunk_id: int
    start: int
    end: int
    url: str | None = None


@dataclass(frozen=True)
class Passage:
    """Retrieved text of one article: a chunk, or overlapping chunks merged (their union, still one
    slice of the article). `highlights` mark the answering sentences, `excerpt` the best of them
    with its neighbours (what a short view shows); both are offsets inside `text`."""

    rank: int
    score: float
    text: str
    citation: Citation
    highlights: list[Span] = field(default_factory=list)
    excerpt: Span | None = None


@dataclass(frozen=True)
class Alternative:
    """A sentence of another article that gives another value than the answer (another count,
    date or name), verbatim; `passage` indexes `Result.passages`."""

    text: str
    passage: int
    citation: Citation


@dataclass(frozen=True)
class AnswerSentence:
    """The one sentence, verbatim, that best answers; `passage` indexes `Result.passages`.
    `alternatives`: where the sources disagree, their sentences, most supported first."""

    text: str
    passage: int
    citation: Citation
    score: float
    alternatives: list[Alternative] = field(default_factory=list)


@dataclass(frozen=True)
class Group:
    """Passages of one outlet or one date (`key`; None: not stated), with the outlets and dates
    they come from; `passages` index `Result.passages`, best first."""

    key: str | None
    sources: list[str]
    dates: list[str]
    passages: list[int]


@dataclass(frozen=True)
class Result:
    """A reply: `abstained` (evidence "none") quotes nothing; evidence "weak" has passages but no
    `answer`, since none of them may answer."""

    question: str
    abstained: bool
    evidence: Evidence
    answer: AnswerSentence | None
    passages: list[Passage]
    took_ms: float
    group_by: str | None = None  # "source" or "date" when the passages were asked for grouped
    groups: list[Group] | None = None

    def to_dict(self) -> dict:
        """The JSON shape of the HTTP API (and of `qa ask --json`)."""
        return asdict(self)
