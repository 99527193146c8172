"""The local BM25 arrays: every score is bm25s's to the bit, and the top chunks found from a
floor are those a ranking of every chunk gives, with and without filters, for whole
questions and their clauses."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from qa.models import Filters
from qa.storage.local import bm25
from qa.storage.local.bm25 import Lexical, best_n, save_bm25, scored_together
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


def _alone(lexical, query, ids_where):
    """One list's scores, scored by itself."""
    return scored_together(lexical, [query], ids_where)[0]


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
        scored = _alone(lexical, query, lambda where: np.arange(CHUNKS))
        want = _every_chunk(reference, query)
        np.testing.assert_array_equal(scored.scores, want)
        ids = rng.choice(CHUNKS, 50)
        np.testing.assert_array_equal(scored.of(ids), want[ids])
        assert scored.best() == (float(want.max()))


def _groups(vocab, rng, count=40):
    """A question's term lists as gather asks for them, and worse: the whole question (repeats
    and unknown terms kept), clauses that line up with it, clauses that do not (reversed,
    shuffled, a term of the whole repeated), an empty list and a list no chunk holds."""
    questions = _questions(vocab, rng, count)
    for whole, head, tail in zip(questions, questions, questions):
        yield [whole, head, tail, head[::-1], list(rng.permutation(whole)), [], ["nowhere", "unknownterm"],
               tail + whole[:1] + tail]


def test_lists_scored_together_equal_each_list_alone_and_bm25s_to_the_bit(corpus):
    lexical, reference, vocab, rng = corpus
    everything = np.arange(CHUNKS)
    for lists in _groups(vocab, rng):
        together = scored_together(lexical, lists, lambda where: everything)
        assert len(together) == len(lists)
        for query, scored in zip(lists, together):
            assert np.array_equal(scored.scores, _alone(lexical, query, lambda where: everything).scores), query
            assert np.array_equal(scored.scores, _every_chunk(reference, query)), query
    # The check can fail: these lists are long enough that another order of the same additions
    # changes some scores' bits, so a list fed a term out of its order would be caught.
    tids = lexical.term_ids([f"t{i}" for i in range(60)])
    assert not np.array_equal(*lexical.scores([tids, tids[::-1]]))


def _counting_reads(lexical, monkeypatch) -> list[int]:
    reads: list[int] = []
    postings = lexical.postings

    def counted(tid):
        reads.append(tid)
        return postings(tid)

    monkeypatch.setattr(lexical, "postings", counted)
    return reads


def test_a_question_and_aligned_clauses_read_each_term_once_when_first_needed(corpus, monkeypatch):
    lexical, reference, _, _ = corpus
    reads = _counting_reads(lexical, monkeypatch)
    question = ["t3", "t17", "t5", "t40", "t8", "t120"]
    lists = [question, question[:3], question[3:]]
    together = scored_together(lexical, lists, lambda where: np.arange(CHUNKS))
    assert reads == []  # nothing is read until a score is needed
    first = together[1].scores
    assert reads == lexical.term_ids(question)  # each term once, in the question's order
    assert np.array_equal(first, _every_chunk(reference, lists[1]))
    for query, scored in zip(lists, together):  # all were computed at once
        assert np.array_equal(scored.scores, _every_chunk(reference, query))
    assert len(reads) == len(question)


def test_a_list_that_begins_another_adds_nothing_of_its_own(corpus, monkeypatch):
    lexical, reference, _, _ = corpus
    added: list[int] = []
    add = bm25.add_postings
    monkeypatch.setattr(bm25, "add_postings", lambda total, docs, impacts: added.append(len(docs)) or add(
        total, docs, impacts))
    question = ["t3", "t17", "t5", "t40", "t8", "t120"]
    lists = [question[:2], question, question[:3], question[3:], question[:3], question[3:5], question[1:4]]
    assert bm25.prefix_sources([lexical.term_ids(q) for q in lists]) == {0: 1, 2: 1, 4: 1, 5: 3}
    together = scored_together(lexical, lists, lambda where: np.arange(CHUNKS))
    for query, scored in zip(lists, together):
        assert np.array_equal(scored.scores, _every_chunk(reference, query)), query
    # Only the lists that begin no other are added: the whole, its second half, and a middle part.
    assert len(added) == len(question) + len(question[3:]) + len(question[1:4])
    assert bm25.prefix_sources([[1, 2], [1, 2], [], [1]]) == {1: 0, 3: 0}


def test_a_term_out_of_step_is_read_again_not_added_out_of_order(corpus, monkeypatch):
    """Only one term's postings are held: a clause in another order, or a repeated term, reads
    a term again."""
    lexical, reference, _, _ = corpus
    reads = _counting_reads(lexical, monkeypatch)
    lists = [["t1", "t2", "t3", "t1"], ["t3", "t2"], ["t1", "t2"]]
    together = scored_together(lexical, lists, lambda where: np.arange(CHUNKS))
    for query, scored in zip(lists, together):
        assert np.array_equal(scored.scores, _every_chunk(reference, query))
    assert reads == lexical.term_ids(["t1", "t2", "t3", "t1", "t2"])


def test_top_from_a_floor_equals_ranking_every_chunk(corpus):
    lexical, reference, vocab, rng = corpus
    for query in _questions(vocab, rng):
        allowed = np.sort(rng.choice(CHUNKS, int(rng.integers(1, CHUNKS)), replace=False))
        scored = _alone(lexical, query, lambda where: allowed)
        want = _every_chunk(reference, query)
        for n in (1, 7, 33, 100, CHUNKS):
            assert scored.top(n, Filters(sources=("x",))) == best_n(allowed, want[allowed], n)
            filtered_best = scored.best()  # a filtered top says nothing of the best of all
            assert scored.top(n) == best_n(np.arange(CHUNKS), want, n)
            assert scored.best() == filtered_best == float(want.max())
        fresh = _alone(lexical, query, lambda where: allowed)
        fresh.top(1, Filters(sources=("x",)))
        assert fresh.best() == float(want.max())  # a filtered top first, then the best of all


def test_best_n_keeps_positive_scores_and_breaks_ties_by_lower_id():
    ids = np.array([0, 1, 2, 3, 4, 5, 6])
    scores = np.array([0.0, 3.0, 1.0, 0.0, 2.0, 3.0, 3.0], dtype=np.float32)
    assert best_n(ids, scores, 2) == {1: 3.0, 5: 3.0}
    assert best_n(ids, scores, 10) == {1: 3.0, 5: 3.0, 6: 3.0, 4: 2.0, 2: 1.0}  # zero scores are not candidates
    assert best_n(ids[[0, 2, 4]], scores[[0, 2, 4]], 1) == {4: 2.0}
    assert best_n(ids, scores, 0) == {}


def test_nothing_passes_an_empty_filter_and_unknown_terms_score_nothing(corpus):
    lexical, _, _, _ = corpus
    assert _alone(lexical, ["t0"], lambda where: np.zeros(0, dtype=np.int64)).top(5, Filters(sources=("x",))) == {}
    unknown = _alone(lexical, ["nowhere"], lambda where: np.arange(CHUNKS))
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


def test_disk_rows_read_many_ranges_as_each_alone_with_fewer_calls(tmp_path, monkeypatch):
    matrix = np.arange(3000, dtype=np.float32).reshape(1000, 3)
    np.save(tmp_path / "m.npy", matrix)
    rows = DiskRows(tmp_path / "m.npy")
    rng = np.random.default_rng(3)
    starts = rng.integers(0, 990, 200)
    ranges = [(int(lo), int(lo + rng.integers(0, 10))) for lo in starts] + [(5, 9), (6, 8), (5, 9), (999, 1000), (3, 3)]
    calls = []
    monkeypatch.setattr(rows, "rows", lambda lo, hi: calls.append((lo, hi)) or DiskRows.rows(rows, lo, hi))
    got = rows.ranges(ranges)
    assert len(got) == len(ranges)
    for (lo, hi), block in zip(ranges, got):
        np.testing.assert_array_equal(block, matrix[lo:hi])
    assert len(calls) < len(ranges) / 2  # neighbours were read together
    assert rows.ranges([]) == []


@pytest.mark.parametrize("array,cut", [(np.zeros((4, 3), dtype=np.float32), 1),
                                       (np.asfortranarray(np.zeros((4, 3), dtype=np.float32)), 0),
                                       (np.array(["a", 1], dtype=object), 0)])
def test_disk_rows_refuse_what_they_cannot_read(tmp_path, array, cut):
    np.save(tmp_path / "a.npy", array, allow_pickle=True)
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "a.npy").write_bytes(data[:len(data) - cut])
    with pytest.raises(ValueError, match="is not a plain array of"):
        DiskRows(tmp_path / "a.npy")
