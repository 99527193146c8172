"""Text analysis shared by building and asking: sentence boundaries as character spans of the
original text (pysbd does the splitting), and the terms BM25, coverage and clauses count."""

from __future__ import annotations

import re
from functools import lru_cache

import pysbd
from pysbd.utils import TextSpan

TITLE_MAX_CHARS = 120
_SPACE = re.compile(r"\s*")


class _Segmenter(pysbd.Segmenter):
    """pysbd's segmenter, its sentences located in the text by `str.find`.

    pysbd's own `sentences_with_char_spans` compiles a regex per sentence (`escape(sentence)\\s*`)
    to scan the text with: about a third of the splitting's CPU, and the new patterns push pysbd's
    rules out of `re`'s cache. This finds the occurrence that regex's scan takes (the first of its
    non-overlapping matches to end past the previous sentence's), so the sentences are pysbd's.
    """

    def sentences_with_char_spans(self, sentences: list[str]) -> list[TextSpan]:
        text, spans, prior = self.original_text, [], 0
        for sent in sentences:
            pos = 0
            while (start := text.find(sent, pos)) >= 0:
                end = _SPACE.match(text, start + len(sent)).end()
                if end > prior:
                    spans.append(TextSpan(text[start:end], start, end))
                    prior = end
                    break
                pos = end if end > start else start + 1  # the regex scan's next try after this match
        return spans


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return _Segmenter(language="en", clean=False)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the sentences of text[start:end], without surrounding white space.

    Lines are split first (headings and datelines have no full stop), then pysbd splits each
    line. Spans are found in the original string, so slicing always gives the sentence back.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        line_start = start + line.start()
        cursor = 0
        line_text = line.group()
        for sent in _segmenter().segment(line_text):
            piece = sent.strip()
            if not piece:
                continue
            found = line_text.find(piece, cursor)
            if found < 0:  # pysbd altered the text: keep the rest of the line whole
                rest = line_text[cursor:]
                stripped = rest.strip()
                if stripped:
                    s = cursor + rest.index(stripped)
                    spans.append((line_start + s, line_start + s + len(stripped)))
                break
            spans.append((line_start + found, line_start + found + len(piece)))
            cursor = found + len(piece)
    return spans


def first_sentence(text: str) -> str | None:
    """The first sentence, cut at a word boundary when too long for a title."""
    spans = sentence_spans(text)
    if not spans:
        return None
    s, e = spans[0]
    title = text[s:e]
    if len(title) <= TITLE_MAX_CHARS:
        return title
    cut = title[:TITLE_MAX_CHARS].rsplit(" ", 1)[0].rstrip(",;:-–— ")
    return cut + "…"


# Runs of two or more word characters: findall only starts a match where a run starts, so this
# is the same as r"\b\w\w+\b", without testing the boundaries.
_TOKEN = re.compile(r"\w\w+")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def terms(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed terms: the same for chunks, questions and sentences."""
    stop = _stopwords()  # looked up once: a cached call per word costs as much as the stemming
    return _stemmer().stemWords([w for w in _TOKEN.findall(text.lower()) if w not in stop])
