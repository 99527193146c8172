"""Chunking: offsets are truth, and no chunk exceeds what the model can see."""

from __future__ import annotations

from conftest import SEED_DATA
from qa.indexing.chunk import chunk_article
from qa.indexing.ingest import read_corpus
from qa.models import Article


class WordTokenizer:
    """A whitespace tokenizer: small, predictable token counts for unit tests."""

    def count(self, texts):
        return [len(t.split()) for t in texts]

    def offsets(self, text):
        import re

        return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


def test_every_seed_chunk_slices_its_article_exactly(encoder):
    budget = encoder.max_seq_length - encoder.special_tokens
    for article in read_corpus(SEED_DATA, max_file_bytes=1 << 20).articles:
        segments, chunks = chunk_article(article, encoder, 200, 1)
        assert chunks
        covered = set()
        for chunk in chunks:
            assert article.text[chunk.start:chunk.end] == chunk.text
            assert chunk.start >= article.body_start
            assert encoder.count([chunk.text])[0] <= min(200, budget)
            covered.update(range(chunk.seg_first, chunk.seg_last + 1))
            assert chunk.start == segments[chunk.seg_first].start and chunk.end == segments[chunk.seg_last].end
        assert covered == set(range(len(segments)))  # nothing of the body is left out


def test_overlap_repeats_sentences():
    text = " ".join(f"Sentence number {i} is here." for i in range(12))
    article = Article("a", "a.txt", text)
    _, chunks = chunk_article(article, WordTokenizer(), budget=12, overlap=1)
    assert len(chunks) > 2
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.seg_first == prev.seg_last  # exactly one sentence shared
    _, no_overlap = chunk_article(article, WordTokenizer(), budget=12, overlap=0)
    for prev, nxt in zip(no_overlap, no_overlap[1:]):
        assert nxt.seg_first == prev.seg_last + 1


def test_overlong_sentence_is_cut_at_word_boundaries():
    words = [f"word{i}" for i in range(50)]
    text = "Intro. " + " ".join(words) + ". Outro."
    article = Article("a", "a.txt", text)
    segments, chunks = chunk_article(article, WordTokenizer(), budget=8, overlap=0)
    for chunk in chunks:
        assert len(chunk.text.split()) <= 8
        assert text[chunk.start:chunk.end] == chunk.text
    pieces = [text[s.start:s.end] for s in segments]
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in pieces)
    assert " ".join(pieces).split() == text.split()  # every word kept, none split


def test_headings_are_their_own_segments():
    text = "A Journey for Justice\n\nThe visit came at a time. It mattered."
    segments, _ = chunk_article(Article("a", "a.txt", text), WordTokenizer(), budget=50, overlap=0)
    assert [text[s.start:s.end] for s in segments] == ["A Journey for Justice", "The visit came at a time.", "It mattered."]


def test_body_start_excludes_header():
    text = " date 2024-01-01 Real text starts. Second sentence."
    article = Article("a", "a.txt", text, body_start=17)
    _, chunks = chunk_article(article, WordTokenizer(), budget=50, overlap=0)
    assert chunks[0].text == "Real text starts. Second sentence."
