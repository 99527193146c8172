"""Text analysis shared by building and asking: sentence boundaries as character spans of the
original text (pysbd does the splitting), and the terms BM25, coverage and clauses count."""

from __future__ import annotations

import re
from functools import lru_cache

import pysbd
from pysbd.lang.english import English
from pysbd.utils import TextSpan

TITLE_MAX_CHARS = 120
_SPACE = re.compile(r"\s*")
# The characters beyond ASCII that `re.IGNORECASE` matches to an ASCII letter (tests/test_text.py
# finds them over every code point). A line without them matches an ASCII word only in ASCII.
_FOLDS_TO_ASCII = frozenset("\u017f\u0130\u0131\u212a")
_STOPPED_WORD = re.compile(r"[a-z]+(?=\.)")


@lru_cache(maxsize=1024)
def _with_abbreviations(lang: type, kept: tuple[str, ...]) -> type:
    """`lang` with only `kept` of its abbreviations (a line's scan reads nothing else of them)."""
    abbreviation = type("Abbreviation", (lang.Abbreviation,), {"ABBREVIATIONS": list(kept)})
    return type(lang.__name__, (lang,), {"Abbreviation": abbreviation})


def _possible(abbreviations: list[str], lowered: str) -> tuple[str, ...]:
    """The abbreviations whose full stop a line's scan could replace: those with a full stop of
    their own, and those that end a word before a full stop in the lowered line."""
    ends = {word[-k:] for word in _STOPPED_WORD.findall(lowered) for k in range(1, len(word) + 1)}
    return tuple(a for a in abbreviations if a in ends or not a.isalpha())


class _English(English):
    """pysbd's English, its abbreviation scan skipping the abbreviations a line cannot change.

    pysbd tries every one of its 188 abbreviations on each line that holds it anywhere, even
    inside a word ("st" in "first"), with regexes made per abbreviation: 57% of the splitting's
    CPU. Each replacement turns the full stop after an abbreviation into a marker, so a line
    without a full stop is returned as it is, and an abbreviation of letters only matters if
    the line has it right before one. Matching ignores case, so this holds only where a letter
    can match nothing but its ASCII self: other lines get pysbd's whole scan. The sentences are
    pysbd's (tests/test_text.py compares them).
    """

    class AbbreviationReplacer(English.AbbreviationReplacer):
        def search_for_abbreviations_in_string(self, text: str) -> str:
            if "." not in text:
                return text
            lang = self.lang
            if _FOLDS_TO_ASCII.isdisjoint(text):
                self.lang = _with_abbreviations(lang, _possible(lang.Abbreviation.ABBREVIATIONS, text.lower()))
            try:
                return super().search_for_abbreviations_in_string(text)
            finally:
                self.lang = lang


class _Segmenter(pysbd.Segmenter):
    """pysbd's segmenter, its sentences located in the text by `str.find`.

    pysbd's own `sentences_with_char_spans` compiles a regex per sentence (`escape(sentence)\\s*`)
    to scan the text with: about a third of the splitting's CPU, and the new patterns push pysbd's
    rules out of `re`'s cache. This finds the occurrence that regex's scan takes (the first of its
    non-overlapping matches to end past the previous sentence's), so the sentences are pysbd's.
    """

    def __init__(self) -> None:
        super().__init__(language="en", clean=False)
        self.language_module = _English

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
    return _Segmenter()


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
