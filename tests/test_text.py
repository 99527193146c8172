"""Sentence splitting: the segmenter locates pysbd's sentences exactly where pysbd's own
(regex per sentence) method does, odd cases included, so index spans never change with it.
Terms: the tokenizer finds the same words as the word-boundary pattern it replaced."""

from __future__ import annotations

import re

import pysbd
import pytest

from qa.text import _TOKEN, _segmenter, sentence_spans, terms

CASES = [
    ("It rained. It rained. Then it stopped.  ", ["It rained.", "It rained.", "Then it stopped."]),
    ("Ab. Ab ab. Ab.", ["Ab.", "Ab ab.", "Ab.", "Ab."]),  # no occurrence left for the last: dropped
    ("One.\u00a0Two.\tThree.", ["One.", "Two.", "Three."]),  # Unicode white space ends a match too
    ("Kept. Gone? Kept again.", ["Kept.", "Altered!", "Kept again."]),  # not in the text: dropped
    ("  Lead. Tail.", ["", "Lead.", "", "Tail.", ""]),  # an empty one matches white space, or nothing
    ("aaa", ["a", "a", "a", "a", "aa"]),  # the scan goes on after a match, never inside it
]


@pytest.mark.parametrize("text,sentences", CASES)
def test_sentences_are_located_as_pysbd_locates_them(text, sentences):
    ours, theirs = _segmenter(), pysbd.Segmenter(language="en", clean=False)
    ours.original_text = theirs.original_text = text
    assert ours.sentences_with_char_spans(sentences) == theirs.sentences_with_char_spans(sentences)


def test_spans_slice_the_sentences():
    text = "Title line\nDr. Smith met Mr. Jones at 3 p.m. today. They talked.  \n\nBye."
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Title line", "Dr. Smith met Mr. Jones at 3 p.m. today.", "They talked.", "Bye."]


WORDS = ["a b", "ab_cd e_f _ __", "x1 2y 3 45", "don't l'été", "naïve café 東京 ü", "a\u00a0bc\tde\n", "", "...--"]


@pytest.mark.parametrize("text", WORDS)
def test_tokens_are_the_word_boundary_patterns(text):
    assert _TOKEN.findall(text) == re.findall(r"(?u)\b\w\w+\b", text)


def test_terms_drop_stop_words_and_stem():
    assert terms("The Governors were governing, and THE people: 2024's votes.") == [
        "governor", "were", "govern", "peopl", "2024", "vote"]  # "were" is not on bm25s's list
