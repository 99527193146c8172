"""Sentence-aware chunking with a budget in the embedding model's own tokens.

A chunk is a run of whole sentences, so its text is always `article.text[start:end]`; a
sentence longer than the budget is cut at word boundaries into pieces that fit, so no part
of an article is beyond what the model sees (MiniLM silently truncates at 256 word pieces).
"""

from __future__ import annotations

from typing import Protocol

from qa.models import Article, Chunk, Segment
from qa.text import sentence_spans


class Tokenizer(Protocol):
    def count(self, texts: list[str]) -> list[int]:
        """Tokens in each text, without special tokens."""

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each token of `text`, without special tokens."""


def _split_long(text: str, start: int, end: int, tokenizer: Tokenizer, budget: int) -> list[Segment]:
    """Cut text[start:end] into pieces of at most `budget` tokens, at word starts when possible."""
    offsets = tokenizer.offsets(text[start:end])
    pieces: list[Segment] = []
    first = 0
    while first < len(offsets):
        last = min(first + budget, len(offsets))  # exclusive
        if last < len(offsets):
            # Back off to a token that starts a new word (there is a gap before it).
            cut = last
            while cut > first + 1 and offsets[cut][0] == offsets[cut - 1][1]:
                cut -= 1
            if cut > first + 1:
                last = cut
        s = start + offsets[first][0]
        e = start + offsets[last - 1][1]
        pieces.append(Segment(s, e))
        first = last
    return pieces


def segment_article(article: Article, tokenizer: Tokenizer, budget: int) -> tuple[list[Segment], list[int]]:
    """Sentences of the body (long ones cut to fit), with their token counts."""
    segments: list[Segment] = []
    for s, e in sentence_spans(article.text, article.body_start):
        segments.append(Segment(s, e))
    counts = tokenizer.count([article.text[s.start:s.end] for s in segments]) if segments else []
    fitted: list[Segment] = []
    fitted_counts: list[int] = []
    for seg, n in zip(segments, counts):
        if n <= budget:
            fitted.append(seg)
            fitted_counts.append(n)
            continue
        for piece in _split_long(article.text, seg.start, seg.end, tokenizer, budget):
            fitted.append(piece)
            fitted_counts.append(tokenizer.count([article.text[piece.start:piece.end]])[0])
    return fitted, fitted_counts


def chunk_article(
    article: Article, tokenizer: Tokenizer, budget: int, overlap: int
) -> tuple[list[Segment], list[Chunk]]:
    """Pack whole segments greedily into chunks; consecutive chunks share `overlap` segments."""
    segments, counts = segment_article(article, tokenizer, budget)
    chunks: list[Chunk] = []
    i, n = 0, len(segments)
    while i < n:
        j, total = i, 0
        while j < n and total + counts[j] <= budget:
            total += counts[j]
            j += 1
        j = max(j, i + 1)  # a piece that still overflows (odd tokenizers) goes alone
        start, end = segments[i].start, segments[j - 1].end
        chunks.append(Chunk(article.doc_id, start, end, article.text[start:end], i, j - 1))
        if j >= n:
            break
        i = max(j - overlap, i + 1)
    return segments, chunks


def header_line(article: Article) -> str:
    """What precedes a chunk when it is embedded and BM25-indexed: title, outlet and date.

    News questions name outlets, titles and dates that the passage itself rarely repeats.
    """
    parts = [article.title, article.source, article.date]
    return " | ".join(p for p in parts if p) + "\n" if any(parts) else ""
