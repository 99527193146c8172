"""Sentence splitting: the segmenter locates pysbd's sentences exactly where pysbd's own
(regex per sentence) method does, odd cases included, so index spans never change with it; its
abbreviation scan skips only what cannot change a line, so its sentences are pysbd's.
Terms: the tokenizer finds the same words as the word-boundary pattern it replaced."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pysbd
import pytest

from qa.text import _FOLDS_TO_ASCII, _TOKEN, _segmenter, sentence_spans, terms

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


LINES = [
    "Dr. Smith met Gov. Jones on St. Patrick's day, the first. Then he left.",
    "No. 5 and pp. 3 were cited, art. 12 too; fig. 3 shows it. Sec. 2 does not.",
    "The U.S. team, e.g. the one in Washington D.C., and i.e. nobody else. Ph.D. students came.",
    "He lives in Ky. He is ok. It is 5 p.m. now. Mt. Everest is high.",
    "MR. SMITH SAID NO. 7. THEN HE WENT TO ST. LOUIS. INC. AND LTD. FOLLOWED.",
    "Nothing ends here, not even st or mr or no",
    "A sentence. Another one! A third? Yes. Jan. 5 was cold. Co. rules apply.",
    "The \u017ft. John church burnt. KY. Ltd. is here. \u0130nc. and \u0131d. Mr. Ok.",
    "Mass at \u017ft. mary is the first at noon. Then lunch.",  # \u017f matches s: pysbd keeps "\u017ft."
    "\u212aan. City met the Sen. Then it was Rep. Bob, of \u201cArk.\u201d who spoke.",
]
DATA = Path(__file__).resolve().parents[1] / "data"


def test_only_these_characters_match_an_ascii_letter_when_case_is_ignored():
    beyond = "".join(chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c < 0xE000)
    found = {ch for letter in string.ascii_lowercase for ch in re.findall(letter, beyond, re.IGNORECASE)}
    assert found == _FOLDS_TO_ASCII


def test_sentences_are_pysbds_on_odd_lines_and_every_seed_line():
    seed = [line for path in sorted(DATA.iterdir()) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(seed) > 50 and any(_FOLDS_TO_ASCII & set(line) for line in LINES)
    theirs = pysbd.Segmenter(language="en", clean=False)
    for line in LINES + seed:
        assert _segmenter().segment(line) == theirs.segment(line), line


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
