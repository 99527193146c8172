"""Retrieved chunks as the passages of a reply: chunks of one article that overlap (consecutive
chunks share a sentence, and a question can bring both) become one passage, the union of their
offsets, so no sentence is quoted twice; each passage marks its answering sentences and the best
of them with its neighbours, all as offsets of the stored article's text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from qa.asking.retrieve import Hit
from qa.models import Article, Citation, Group, Passage, Result, Segment, Span
from qa.storage.base import ChunkRow


@dataclass(frozen=True)
class Read:
    """One retrieved chunk, its sentences (article offsets, text) and their scores as answers."""

    hit: Hit
    article: Article
    segments: list[Segment]
    texts: list[str]
    scores: np.ndarray

    @property
    def top(self) -> int:
        """The sentence that best answers (the first of equals)."""
        return int(np.argmax(self.scores))

    @property
    def row(self) -> ChunkRow:
        return self.hit.row


def cite(article: Article, row: ChunkRow, start: int, end: int) -> Citation:
    return Citation(doc_id=article.doc_id, title=article.title, source=article.source, date=article.date,
                    path=article.path, chunk_id=row.chunk_id, start=start, end=end, url=article.url)


def assemble(reads: Sequence[Read]) -> tuple[list[Passage], list[int]]:
    """The passages, best first, and the passage each read (in rank order) ended up in."""
    where = [0] * len(reads)
    passages = []
    for n, members in enumerate(_overlapping(reads)):
        for i in members:
            where[i] = n
        passages.append(_passage(n + 1, [reads[i] for i in members]))
    return passages, where


def _overlapping(reads: Sequence[Read]) -> list[list[int]]:
    """Reads grouped where their chunks overlap (transitively) within one article, each group in
    rank order, the groups ordered by their best rank."""
    groups: list[list[int]] = []
    by_doc: dict[str, list[int]] = {}
    for i, r in enumerate(reads):
        by_doc.setdefault(r.row.doc_id, []).append(i)
    for members in by_doc.values():
        end = -1
        for i in sorted(members, key=lambda i: reads[i].row.start):
            row = reads[i].row
            if row.start < end:
                groups[-1].append(i)
            else:
                groups.append([i])
            end = max(end, row.end)
    return sorted((sorted(g) for g in groups), key=lambda g: g[0])


def _passage(rank: int, members: list[Read]) -> Passage:
    """One passage from overlapping reads (best first): the text of their union, cited by the best
    one's chunk; the answering sentence of each marked; the best of those with its neighbours."""
    first = members[0]
    start, end = min(r.row.start for r in members), max(r.row.end for r in members)
    text = ""
    for r in sorted(members, key=lambda r: r.row.start):  # each row's text is article.text[row.start:row.end]
        text += r.row.text[max(0, start + len(text) - r.row.start):]
    tops = sorted({r.segments[r.top] for r in members}, key=lambda s: s.start)
    best = max(members, key=lambda r: r.scores[r.top])  # first of equals: the best-ranked
    return Passage(rank=rank, score=round(first.hit.score, 4), text=text,
                   citation=cite(first.article, first.row, start, end),
                   highlights=[Span(s.start - start, s.end - start) for s in tops],
                   excerpt=_excerpt(best.segments[best.top], members, start, text))


def _excerpt(sentence: Segment, members: list[Read], start: int, text: str) -> Span:
    """The sentence with the sentences before and after it in its paragraph, as passage offsets."""
    segments = sorted({s for r in members for s in r.segments}, key=lambda s: s.start)
    at = segments.index(sentence)
    lo = at - 1 if at > 0 and "\n" not in text[segments[at - 1].end - start:sentence.start - start] else at
    hi = at + 1 if at + 1 < len(segments) and "\n" not in text[sentence.end - start:segments[at + 1].start - start] \
        else at
    return Span(segments[lo].start - start, segments[hi].end - start)


def arrange(result: Result, by: str | None) -> Result:
    """The result with its passages also grouped `by` "source" (each outlet's passages, the outlet
    of the best passage first) or "date" (a timeline: oldest first, undated last); the passages
    themselves, their order and their citations stay as they are."""
    if by is None:
        return result
    keys: dict[str | None, list[int]] = {}
    for i, p in enumerate(result.passages):
        keys.setdefault(p.citation.source if by == "source" else p.citation.date, []).append(i)
    order = list(keys) if by == "source" else sorted(keys, key=lambda k: (k is None, k or ""))
    groups = [Group(key, _distinct(result.passages[i].citation.source for i in keys[key]),
                    sorted(_distinct(result.passages[i].citation.date for i in keys[key])), keys[key])
              for key in order]
    return replace(result, group_by=by, groups=groups)


def _distinct(values) -> list[str]:
    return list(dict.fromkeys(v for v in values if v is not None))
