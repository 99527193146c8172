"""The build's plan: each article's sentences and chunks in the model's tokens, and what the model
will see for each chunk (its header line and text, with its sentences' spans for late pooling).

Planning is pure Python (pysbd) and costs a few percent of a build: past `PLAN_AHEAD` articles it
runs in a second process that keeps planning while this one encodes the chunks already planned,
so it overlaps the encoding instead of preceding it. That process imports only this module, pysbd and
`tokenizers`: no torch, no model.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from typing import Iterator, Sequence

from qa.indexing.chunk import chunk_article, header_line
from qa.models import Article, Chunk, Segment

# Starting the planning process (an interpreter, pysbd, the tokenizer) costs about a second:
# more than planning a few dozen articles, so smaller corpora are planned in this process.
PLAN_AHEAD = 50
# The planning process yields to the encoder: it uses the cores the model's threads leave idle.
PLANNER_NICENESS = 10


class PlanTokenizer:
    """The model's fast tokenizer with truncation and padding off: what the chunk budget counts.

    Made from the tokenizer's JSON, so it pickles small and loads without transformers.
    """

    def __init__(self, spec: str):
        from tokenizers import Tokenizer

        self.spec = spec
        self.tokenizer = Tokenizer.from_str(spec)
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()

    def __reduce__(self) -> tuple:
        return PlanTokenizer, (self.spec,)

    def count(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return [tuple(o) for o in self.tokenizer.encode(text, add_special_tokens=False).offsets]


@dataclass(frozen=True)
class ChunkInput:
    """What the model sees for one chunk: the header line and the chunk, with its sentences'
    spans inside that text (for late pooling)."""

    article: int  # position in the plan's articles
    chunk: Chunk
    text: str
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ArticlePlan:
    segments: list[Segment]
    chunks: list[Chunk]
    inputs: list[ChunkInput]


@dataclass(frozen=True)
class BuildPlan:
    articles: list[Article]
    segments: list[list[Segment]]  # per article
    chunks: list[list[Chunk]]  # per article
    inputs: list[ChunkInput]  # every chunk, in chunk-id order
    chunking: dict

    @classmethod
    def of(cls, articles: list[Article], plans: Sequence[ArticlePlan], chunking: dict) -> "BuildPlan":
        return cls(articles, [p.segments for p in plans], [p.chunks for p in plans],
                   [item for p in plans for item in p.inputs], chunking)


@dataclass(frozen=True)
class Planner:
    """Plans one article: sentences and chunks within the budget once its header line is added."""

    tokenizer: PlanTokenizer
    chunking: dict  # as the manifest records it: max_tokens (capped by the model), overlap_sentences, header

    def __call__(self, job: tuple[int, Article]) -> ArticlePlan:
        position, article = job
        header = header_line(article) if self.chunking["header"] else ""
        used = self.tokenizer.count([header])[0]
        segs, own = chunk_article(article, self.tokenizer, max(16, self.chunking["max_tokens"] - used),
                                  self.chunking["overlap_sentences"])
        inputs = []
        for c in own:
            shift = len(header) - c.start
            spans = tuple((s.start + shift, s.end + shift) for s in segs[c.seg_first:c.seg_last + 1])
            inputs.append(ChunkInput(position, c, header + c.text, spans))
        return ArticlePlan(segs, own, inputs)


_planner: Planner | None = None  # the planning process's one Planner, set once when it starts


def _start(planner: Planner) -> None:
    global _planner
    os.nice(PLANNER_NICENESS)
    _planner = planner


def _plan_there(job: tuple[int, Article]) -> ArticlePlan:
    return _planner(job)


def planned(articles: list[Article], planner: Planner, processes: int = 1) -> Iterator[ArticlePlan]:
    """Every article's plan, in order, as soon as it is made: past PLAN_AHEAD articles by `processes`
    other processes (one beside a CPU encoder, whose threads take the cores; more beside a GPU or a
    cluster, which would otherwise wait for pysbd)."""
    if len(articles) <= PLAN_AHEAD:
        yield from map(planner, enumerate(articles))
        return
    with multiprocessing.get_context("spawn").Pool(processes, initializer=_start, initargs=(planner,)) as pool:
        yield from pool.imap(_plan_there, enumerate(articles), chunksize=4)
