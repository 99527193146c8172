"""Writing one version: its four collections, filled in batches and counted before it is named.

The rows come from the build's `VersionContent`, as the local backend's files do: chunk ids
are positions, sentences are numbered across the version, articles are split into parts of at
most 65,535 bytes. BM25 indexes each chunk's `qa.text.terms` (see schema.py), and the terms
collection keeps each term's document frequency for `Store.idf`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Callable, Iterable, Iterator

from qa.config import Config
from qa.errors import IndexUnavailable
from qa.storage.base import CorpusSummary, VersionContent
from qa.storage.milvus.catalog import Catalog, split_text
from qa.storage.milvus.client import Milvus, key
from qa.storage.milvus.schema import (KINDS, PAD, VARCHAR_BYTES, articles_schema, chunks_schema, collection,
                                      dense_index, index_params, sentences_schema, terms_schema)
from qa.text import terms

BATCH_ROWS = 1000
BATCH_BYTES = 8 << 20  # well under gRPC's and Milvus's message limits


def fit(text: str) -> str:
    """`text` cut to what a VARCHAR holds (only over-long metadata and BM25 text ever are)."""
    return split_text(text)[0]


def chunk_rows(content: VersionContent, term_lists: list[list[str]]) -> Iterator[dict]:
    cid, seg_base = 0, 0
    for record in content.articles:
        a = record.article
        for c in record.chunks:
            joined = " ".join(term_lists[cid])
            bm25 = fit(joined)
            if len(bm25) < len(joined):  # cut inside a term: drop that term
                bm25 = bm25.rsplit(" ", 1)[0]
            # A chunk longer than a VARCHAR (a pathological run of word pieces) is read back from
            # the article text instead: chunks() slices it there.
            text = c.text if len(c.text.encode("utf-8")) <= VARCHAR_BYTES else ""
            yield {"id": cid, "doc_id": a.doc_id, "doc_key": key(a.doc_id), "source": a.source or "",
                   "source_key": key((a.source or "").lower()), "date": a.date or "", "start": c.start,
                   "end": c.end, "seg_first": c.seg_first, "seg_last": c.seg_last, "seg_base": seg_base,
                   "text": text, "embedded": fit(content.embedded[cid]), "terms": bm25,
                   "vector": content.vectors[cid]}
            cid += 1
        seg_base += len(record.segments)


def sentence_rows(content: VersionContent) -> Iterator[dict]:
    sid = 0
    for record in content.articles:
        doc_key = key(record.article.doc_id)
        for no, (seg, vec) in enumerate(zip(record.segments, record.segment_vectors)):
            yield {"id": sid, "doc_key": doc_key, "seg_no": no, "start": seg.start, "end": seg.end, "vector": vec}
            sid += 1


def article_rows(content: VersionContent) -> Iterator[dict]:
    rid = 0
    for record in content.articles:
        a = record.article
        meta = {"doc_id": a.doc_id, "doc_key": key(a.doc_id), "path": a.path, "title": fit(a.title or ""),
                "date": a.date or "", "source": a.source or "", "url": fit(a.url or ""),
                "body_start": a.body_start, "sha256": record.sha256, "pad": PAD}
        for part, text in enumerate(split_text(a.text)):
            yield {"id": rid, "part": part, "text": text, **meta}
            rid += 1


def term_rows(df: Counter) -> Iterator[dict]:
    for term, count in df.items():
        yield {"id": key(term), "term": fit(term), "df": count, "pad": PAD}


def summary(content: VersionContent) -> CorpusSummary:
    """What the local backend's SQL summary gives: date range, outlets most frequent first, their counts."""
    dates = sorted(r.article.date for r in content.articles if r.article.date)
    sources = Counter(r.article.source for r in content.articles if r.article.source is not None)
    ranked = sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))
    return CorpusSummary(len(content.articles), dates[0] if dates else None, dates[-1] if dates else None,
                         [s for s, _ in ranked], [n for _, n in ranked])


def _insert(db: Milvus, name: str, rows: Iterable[dict], renew: Callable[[], None]) -> int:
    """Insert in batches bounded by rows and bytes; returns the number of rows."""
    batch: list[dict] = []
    size = count = 0
    for row in rows:
        batch.append(row)
        size += sum(len(v) if isinstance(v, str) else 8 for v in row.values()) + 4 * len(row.get("vector", ()))
        if len(batch) >= BATCH_ROWS or size >= BATCH_BYTES:
            db.slow_call("insert", name, batch)
            count, batch, size = count + len(batch), [], 0
            renew()
    if batch:
        db.slow_call("insert", name, batch)
        count += len(batch)
    return count


def count_rows(db: Milvus, name: str) -> int:
    return int(db.slow_call("query", name, filter="", output_fields=["count(*)"],
                       consistency_level="Strong")[0]["count(*)"])


def version_rows(content: VersionContent) -> dict[str, Iterator[dict]]:
    """Each collection's rows for `content`, made as they are inserted."""
    term_lists = [terms(text) for text in content.embedded]
    df = Counter(t for ts in term_lists for t in set(ts))
    return {"chunks": chunk_rows(content, term_lists), "sentences": sentence_rows(content),
            "articles": article_rows(content), "terms": term_rows(df)}


def write_version(db: Milvus, catalog: Catalog, cfg: Config, version: str, content: VersionContent,
                  renew: Callable[[], None]) -> None:
    """Create and fill the version's collections, check every count, then record its document
    (after which it may be published)."""
    write_rows(db, catalog, cfg, version, version_rows(content), content.manifest, summary(content), renew)


def write_rows(db: Milvus, catalog: Catalog, cfg: Config, version: str, rows: dict[str, Iterable[dict]],
               manifest: dict, corpus: CorpusSummary, renew: Callable[[], None]) -> None:
    """`write_version` from rows given per collection kind (the bench's synthetic versions use it
    too); `manifest` counts the chunks and names the model's dimension."""
    m = cfg.storage.milvus
    names = {kind: collection(m.collection_prefix, version, kind) for kind in KINDS}
    dim = int(manifest["dimension"])
    build, _ = dense_index(m.index_type, cfg.vectors, int(manifest["counts"]["chunks"]))
    schemas = {"chunks": chunks_schema(dim), "sentences": sentences_schema(dim), "articles": articles_schema(),
               "terms": terms_schema()}
    for kind, name in names.items():
        db.slow_call("create_collection", name, schema=schemas[kind], shards_num=m.shards_num,
                     consistency_level="Bounded")
        # Not waiting on the index of an empty collection saves pymilvus's fixed half-second poll.
        db.slow_call("create_index", name, index_params(kind, m.index_type, build), sync=False)
        db.slow_call("load_collection", name, replica_number=m.replicas)
    written = {kind: _insert(db, names[kind], rows[kind], renew) for kind in KINDS}
    for kind, name in names.items():
        db.slow_call("flush", name)
        held = count_rows(db, name)
        if held != written[kind]:
            raise IndexUnavailable(f"Milvus at {db.uri} holds {held} rows of {name}, {written[kind]} were written; "
                                   "the version is not published")
    manifest = {**manifest, "version": version, "files": {},
                "storage": {"backend": "milvus", "collections": names, "index_type": m.index_type,
                            "index_params": build, "shards_num": m.shards_num}}
    catalog.put_doc(version, {"manifest": manifest, "summary": dataclasses.asdict(corpus)})
