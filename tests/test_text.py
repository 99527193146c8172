"""Sentence splitting: the segmenter locates pysbd's sentences exactly where pysbd's own
(regex per sentence) method does, odd cases included, so index spans never change with it."""

from __future__ import annotations

import pysbd
import pytest

from qa.text import _segmenter, sentence_spans

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
