"""The local BM25 arrays: every score is bm25s's to the bit, and the top chunks found from a
floor are those a ranking of every chunk gives, with and without filters, for whole
questions and their clauses."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from qa.models import Filters
from qa.storage.local.bm25 import Lexical, ScoredChunks, best_n, save_bm25
from qa.storage.local.diskrows import DiskRows
from qa.storage.local.strings import Strings, write_strings

CHUNKS = 3000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Chunks of Zipf-distributed terms; every third chunk repeats an earlier one, so equal
    scores (ties) are common, as with syndicated articles."""
    rng = np.random.default_rng(7)
    vocab = [f"t{i}" for i in range(400)] + ["é", "ünïcode", "z" * 40]
    lists = []
    for i in range(CHUNKS):
        if i % 3 == 2:
            lists.append(list(lists[int(rng.integers(0, i))]))
        else:
            ranks = np.minimum(rng.zipf(1.3, size=int(rng.integers(5, 60))), len(vocab)) - 1
            lists.append([vocab[r] for r in ranks])
    folder = tmp_path_factory.mktemp("bm25")
    save_bm25(lists, folder)
    reference = bm25s.BM25()
    reference.index(lists, show_progress=False)
    return Lexical(folder), reference, vocab, rng


def _every_chunk(reference, query: list[str]) -> np.ndarray:
    known = [t for t in query if t in reference.vocab_dict]
    return reference.get_scores(known) if known else np.zeros(CHUNKS, dtype=np.float32)


def _questions(vocab, rng, count=60):
    """Questions of 1-30 terms, common and rare, some repeated, some unknown; and their clauses."""
    for _ in range(count):
        size = int(rng.integers(1, 30))
        picks = np.minimum(rng.zipf(1.2, size=size), len(vocab)) - 1
        question = [vocab[p] for p in picks] + (["unknownterm"] if rng.random() < 0.2 else [])
        yield question
        cut = int(rng.integers(1, len(question) + 1))
        yield question[:cut]  # a clause: part of the question's terms
        yield question[cut:]


def test_scores_are_bm25s_scores_to_the_bit(corpus):
    lexical, reference, vocab, rng = corpus
    for query in _questions(vocab, rng):
        scored = ScoredChunks(lexical, query, lambda where: np.arange(CHUNKS))
        want = _every_chunk(reference, query)
        np.testing.assert_array_equal(scored.scores, want)
        ids = rng.choice(CHUNKS, 50)
        np.testing.assert_array_equal(scored.of(ids), want[ids])
        assert scored.best() == (float(want.max()))


def test_top_from_a_floor_equals_ranking_every_chunk(corpus):
    lexical, reference, vocab, rng = corpus
    for query in _questions(vocab, rng):
        allowed = np.sort(rng.choice(CHUNKS, int(rng.integers(1, CHUNKS)), replace=False))
        scored = ScoredChunks(lexical, query, lambda where: allowed)
        want = _every_chunk(reference, query)
        for n in (1, 7, 33, 100, CHUNKS):
            assert scored.top(n) == best_n(np.arange(CHUNKS), want, n)
            assert scored.top(n, Filters(sources=("x",))) == best_n(allowed, want[allowed], n)


def test_best_n_keeps_positive_scores_and_breaks_ties_by_lower_id():
    ids = np.array([0, 1, 2, 3, 4, 5, 6])
    scores = np.array([0.0, 3.0, 1.0, 0.0, 2.0, 3.0, 3.0], dtype=np.float32)
    assert best_n(ids, scores, 2) == {1: 3.0, 5: 3.0}
    assert best_n(ids, scores, 10) == {1: 3.0, 5: 3.0, 6: 3.0, 4: 2.0, 2: 1.0}  # zero scores are not candidates
    assert best_n(ids[[0, 2, 4]], scores[[0, 2, 4]], 1) == {4: 2.0}
    assert best_n(ids, scores, 0) == {}


def test_nothing_passes_an_empty_filter_and_unknown_terms_score_nothing(corpus):
    lexical, _, _, _ = corpus
    assert ScoredChunks(lexical, ["t0"], lambda where: np.zeros(0, dtype=np.int64)).top(5, Filters(sources=("x",))) == {}
    unknown = ScoredChunks(lexical, ["nowhere"], lambda where: np.arange(CHUNKS))
    assert unknown.top(5) == {} and unknown.best() == 0.0
    nowhere, common = lexical.idf(["nowhere", "t0"])
    assert nowhere > common  # an unseen term weighs most


def test_strings_find_what_was_written_in_byte_order(tmp_path):
    # Runs sharing their first eight bytes (the numeric keys) are bisected by their whole bytes.
    values = sorted(["b", "a", "é", "aa", "zz", "", "prefix00", "prefix001", "prefix00a", "prefix00b", "prefix01"],
                    key=str.encode)
    write_strings(tmp_path, "col", values)
    col = Strings(tmp_path, "col")
    assert [col[i] for i in range(len(col))] == values
    assert col.find(values) == list(range(len(values)))
    assert col.find(["ab", "zzz", "prefix00c", "prefix0", "prefix"]) == [None] * 5
    write_strings(tmp_path, "empty", [])
    assert len(Strings(tmp_path, "empty")) == 0 and Strings(tmp_path, "empty").find(["a"]) == [None]


def test_strings_refuse_a_truncated_file(tmp_path):
    write_strings(tmp_path, "col", ["alpha", "beta"])
    (tmp_path / "col.bin").write_bytes(b"alpha")
    with pytest.raises(ValueError, match="holds 5 bytes and 2 keys, its offsets say 9 bytes and 2 strings"):
        Strings(tmp_path, "col")


def test_disk_rows_read_what_numpy_wrote(tmp_path):
    matrix = np.arange(60, dtype=np.float32).reshape(20, 3)
    np.save(tmp_path / "m.npy", matrix)
    rows = DiskRows(tmp_path / "m.npy")
    assert len(rows) == 20
    np.testing.assert_array_equal(rows.rows(4, 9), matrix[4:9])
    assert rows.rows(7, 7).shape == (0, 3)
    np.save(tmp_path / "v.npy", np.arange(5, dtype=np.int32))
    np.testing.assert_array_equal(DiskRows(tmp_path / "v.npy").rows(1, 4), [1, 2, 3])


@pytest.mark.parametrize("array,cut", [(np.zeros((4, 3), dtype=np.float32), 1),
                                       (np.asfortranarray(np.zeros((4, 3), dtype=np.float32)), 0),
                                       (np.array(["a", 1], dtype=object), 0)])
def test_disk_rows_refuse_what_they_cannot_read(tmp_path, array, cut):
    np.save(tmp_path / "a.npy", array, allow_pickle=True)
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "a.npy").write_bytes(data[:len(data) - cut])
    with pytest.raises(ValueError, match="is not a plain array of"):
        DiskRows(tmp_path / "a.npy")
