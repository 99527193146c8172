"""Ingest: every format, and every kind of bad file skipped with a reason."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import MULTIHOP, SEED_DATA
from qa.errors import IngestError
from qa.indexing.ingest import read_corpus

LIMIT = 1 << 20


def ingest(path: Path, limit: int = LIMIT):
    return read_corpus(path, max_file_bytes=limit)


def test_seed_articles_metadata():
    corpus = ingest(SEED_DATA)
    assert corpus.skipped == []
    by_id = {a.doc_id: a for a in corpus.articles}
    assert len(by_id) == 5
    a = by_id["001_29f152ea19aaed47"]
    raw = (SEED_DATA / "001_29f152ea19aaed47.txt").read_text(encoding="utf-8")
    assert a.text == raw  # stored exactly as read
    assert a.date == "2025-02-26"
    assert a.source == "AzerNEWS"
    assert not a.text[a.body_start:].startswith(" date")
    assert by_id["003_ab7d4c11edc94891"].source == "Trend"
    assert by_id["004_9bf4b359064a2d30"].source == "Azernews"
    assert by_id["000_d73af6087baa2691"].source is None
    assert by_id["003_ab7d4c11edc94891"].title.startswith("A commemorative event")
    for article in corpus.articles:
        assert article.title and len(article.title) <= 121
        assert article.path.endswith(".txt")


def test_markdown_front_matter(tmp_path):
    (tmp_path / "a.md").write_text("---\ntitle: Hello\ndate: 2024-01-02\nsource: Wire\nurl: http://x\n---\nBody text here.\n")
    a = ingest(tmp_path).articles[0]
    assert (a.title, a.date, a.source, a.url) == ("Hello", "2024-01-02", "Wire", "http://x")
    assert a.text[a.body_start:] == "Body text here.\n"


def test_markdown_without_front_matter_uses_heading(tmp_path):
    (tmp_path / "b.md").write_text("# A heading\n\nSome text.")
    a = ingest(tmp_path).articles[0]
    assert a.title == "A heading" and a.body_start == 0


def test_markdown_bad_front_matter_skipped(tmp_path):
    (tmp_path / "bad.md").write_text("---\ntitle: [unclosed\n---\ntext")
    (tmp_path / "good.txt").write_text("Fine text.")
    corpus = ingest(tmp_path)
    assert [a.doc_id for a in corpus.articles] == ["good"]
    assert corpus.skipped[0].path == "bad.md" and "front matter" in corpus.skipped[0].reason


def test_html_extraction(tmp_path):
    paragraphs = "".join(f"<p>Paragraph {i} of the article body talks about the harbour reopening.</p>" for i in range(6))
    (tmp_path / "page.html").write_text(
        f"<html><head><title>Harbour reopens</title></head><body><nav>Menu Home About</nav>"
        f"<article>{paragraphs}</article><footer>Copyright</footer></body></html>")
    a = ingest(tmp_path).articles[0]
    assert a.title == "Harbour reopens"
    assert "Paragraph 3 of the article body" in a.text
    assert "<p>" not in a.text


def test_json_object_list_and_jsonl(tmp_path):
    (tmp_path / "one.json").write_text(json.dumps({"id": "x1", "text": "Alpha text.", "title": "Alpha"}))
    (tmp_path / "many.json").write_text(json.dumps([{"body": "Beta text."}, {"text": "Gamma text.", "date": "2024-05-06T10:00:00+00:00"}]))
    (tmp_path / "lines.jsonl").write_text('{"text": "Delta text."}\n{not json}\n\n{"text": "Epsilon text."}\n')
    corpus = ingest(tmp_path)
    ids = sorted(a.doc_id for a in corpus.articles)
    assert ids == ["lines-1", "lines-4", "many-1", "many-2", "x1"]
    gamma = next(a for a in corpus.articles if a.doc_id == "many-2")
    assert gamma.date == "2024-05-06"
    assert [(s.path, "malformed JSON line" in s.reason) for s in corpus.skipped] == [("lines.jsonl:2", True)]


@pytest.mark.parametrize("name,content,reason", [
    ("binary.txt", b"abc\x00\x01\x02", "binary"),
    ("latin1.txt", "café".encode("latin-1"), "UTF-8"),
    ("empty.txt", b"   \n", "empty"),
    ("broken.json", b'{"text": "x"', "malformed JSON"),
    ("notext.json", b'{"title": "no body"}', "no 'text'"),
    ("list.json", b'[1, 2]', "not a JSON object"),
    ("image.png", b"\x89PNG", "unsupported"),
    ("dateonly.txt", b" date 2024-01-01 ", "no text"),
])
def test_bad_files_are_skipped_with_reason(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    (tmp_path / "ok.txt").write_text("A good article.")
    corpus = ingest(tmp_path)
    assert [a.doc_id for a in corpus.articles] == ["ok"]
    assert corpus.skipped and corpus.skipped[0].path.startswith(name)
    assert reason in corpus.skipped[0].reason


def test_too_large_file_skipped(tmp_path):
    (tmp_path / "big.txt").write_text("x" * 2000)
    (tmp_path / "small.txt").write_text("Small.")
    corpus = ingest(tmp_path, limit=1000)
    assert [a.doc_id for a in corpus.articles] == ["small"]
    assert "too large" in corpus.skipped[0].reason


def test_symlink_outside_not_followed(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("Secret text outside the data folder.")
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("Inside.")
    os.symlink(outside, data / "link.txt")
    corpus = ingest(data)
    assert [a.doc_id for a in corpus.articles] == ["in"]
    assert corpus.skipped[0].path == "link.txt" and "outside" in corpus.skipped[0].reason


def test_unicode_file_name(tmp_path):
    (tmp_path / "Bakı xəbərləri 1.txt").write_text("Text with a name of spaces and letters.")
    corpus = ingest(tmp_path)
    assert corpus.articles[0].doc_id == "Bakı xəbərləri 1"


def test_duplicate_ids_skipped(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps([{"id": "same", "text": "One."}, {"id": "same", "text": "Two."}]))
    corpus = ingest(tmp_path)
    assert len(corpus.articles) == 1 and "duplicate" in corpus.skipped[0].reason


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(IngestError, match="not found"):
        ingest(tmp_path / "nope")


@pytest.mark.skipif(not (MULTIHOP / "corpus.json").exists(), reason="shared benchmark not present")
def test_multihop_corpus_ingests_as_is(tmp_path):
    shutil.copy(MULTIHOP / "corpus.json", tmp_path / "corpus.json")
    corpus = read_corpus(tmp_path, max_file_bytes=64 << 20)
    assert corpus.skipped == []
    assert len(corpus.articles) == 609
    records = json.loads((MULTIHOP / "corpus.json").read_text())
    by_title = {a.title: a for a in corpus.articles}
    for rec in records[:50]:
        a = by_title[rec["title"]]
        assert a.text == rec["body"] and a.source == rec["source"] and a.url == rec["url"]
        assert a.date == rec["published_at"][:10]
