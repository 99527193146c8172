"""The build's plan: each article's sentences and chunks in the model's tokens, and what the model
will see for each chunk (its header line and text, with its sentences' spans for late pooling).

Planning is pure Python (pysbd, about 1.8 ms of CPU a chunk: 3% of a CPU build): past `PLAN_AHEAD`
articles it runs in a second process that keeps planning while this one encodes the chunks already
planned, so it overlaps the encoding instead of preceding it. That process imports only this module,
pysbd and `tokenizers`: no torch, no model, so it can start before the model loads, from the
tokenizer and limits in the model's files (`ModelFolder`). While it works, a CPU encoder leaves it a
core (`busy`).
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from qa.indexing.chunk import chunk_article, header_line
from qa.models import Article, Chunk, Segment

# Starting the planning process (an interpreter, pysbd, the tokenizer) costs about a second:
# more than planning a few dozen articles, so smaller corpora are planned in this process.
PLAN_AHEAD = 50
JOB = 4  # articles a planning process plans per call


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

    def __eq__(self, other: object) -> bool:
        """Same tokenizer: the same JSON once truncation and padding are off."""
        return isinstance(other, PlanTokenizer) and self.tokenizer.to_str() == other.tokenizer.to_str()

    def count(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return [tuple(o) for o in self.tokenizer.encode(text, add_special_tokens=False).offsets]


@dataclass(frozen=True)
class ModelFolder:
    """What planning needs of a sentence-transformers folder, read from its files so planning can
    start while the model loads: its tokenizer, its token limit, the tokens it adds to each input."""

    tokenizer: PlanTokenizer
    max_seq_length: int
    special_tokens: int

    @classmethod
    def read(cls, path: str) -> ModelFolder | None:
        """None where the files do not say (no local folder, no tokenizer.json or token limit)."""
        folder = Path(path)
        try:
            module = folder / json.loads((folder / "modules.json").read_text(encoding="utf-8"))[0]["path"]
            limit = int(json.loads((module / "sentence_bert_config.json").read_text(encoding="utf-8"))["max_seq_length"])
            spec = (module / "tokenizer.json").read_text(encoding="utf-8")
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None
        try:
            tokenizer = PlanTokenizer(spec)
        except Exception:  # tokenizers raises a bare Exception; the model's load says what is wrong
            return None
        return cls(tokenizer, limit, len(tokenizer.tokenizer.encode("").ids))


def planning_processes(beside_cpu: bool) -> int:
    """Planning processes: one beside a CPU encoder, whose threads take the other cores; the cores
    but one beside a GPU or a cluster, which would otherwise wait for pysbd."""
    return 1 if beside_cpu else max(1, (os.cpu_count() or 2) - 1)


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
    _planner = planner


def _plan_there(jobs: list[tuple[int, Article]]) -> list[ArticlePlan]:
    return [_planner(job) for job in jobs]


class Planning:
    """Every article's plan, in order, as soon as it is made: past PLAN_AHEAD articles by `processes`
    other processes (one beside a CPU encoder; more beside a GPU or a cluster, which would otherwise
    wait for pysbd), all of it handed to them at once so they plan ahead of the encoder."""

    def __init__(self, articles: list[Article], planner: Planner, processes: int = 1):
        self._articles, self.planner = articles, planner
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future] = []
        self._done = 0  # the futures before this one have finished
        if len(articles) > PLAN_AHEAD:
            self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start, initargs=(planner,))
            jobs = list(enumerate(articles))
            self._futures = [self._pool.submit(_plan_there, jobs[i:i + JOB]) for i in range(0, len(jobs), JOB)]

    def __iter__(self) -> Iterator[ArticlePlan]:
        if self._pool is None:
            yield from map(self.planner, enumerate(self._articles))
        for future in self._futures:
            yield from future.result()

    @property
    def busy(self) -> bool:
        """Whether the planning processes still work (they take cores the encoder could use)."""
        while self._done < len(self._futures) and self._futures[self._done].done():
            self._done += 1
        return self._done < len(self._futures)

    def close(self) -> None:
        """Stop the planning processes, dropping what they have not begun."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
