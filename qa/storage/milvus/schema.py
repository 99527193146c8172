"""The collections: four per index version (`<prefix><version>_<kind>`) and one `<prefix>meta`.

- chunks: the chunk id as primary key; the verbatim text and its offsets in the article; the
  embedded header + text; the article id, outlet and date, with integer keys of the id and of
  the lower-cased outlet for filters; the dense vector; and `terms`, the chunk's terms as
  `qa.text.terms` analyses them, space-joined, which Milvus's own BM25 function turns into the
  sparse vector. Its analyzer only splits on white space, so Milvus scores exactly the stems the
  local backend's bm25s scores, with bm25s's k1 and b: the two rankings agree.
- sentences: one row per sentence (article offsets and its vector), numbered across the version
  so a chunk's sentences are the ids `seg_base + seg_first` .. `seg_base + seg_last`.
- articles: metadata and the text the source view shows; VARCHAR holds at most 65,535 bytes,
  so a longer text spans several rows (`part`), joined on reading.
- terms: each term's document frequency, for `Store.idf` (Milvus does not expose it).
- meta (one per prefix, not per version): the pointer to the version in service, each version's
  state, manifest and summary, the servers' leases and the build lock.

Milvus 2.4.4+ servers refuse a collection without a vector field (milvus-io/milvus#33853), so
the scalar-only ones carry a 2-dimensional `pad` vector; Milvus Lite has no nullable fields, so
a missing outlet or date is stored as "".
"""

from __future__ import annotations

from typing import Any

from pymilvus import CollectionSchema, DataType, Function, FunctionType, MilvusClient
from pymilvus.milvus_client import IndexParams

KINDS = ("chunks", "sentences", "articles", "terms")
META = "meta"
VARCHAR_BYTES = 65535
PAD = [0.0, 0.0]
ANALYZER = {"tokenizer": "whitespace"}
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults, so scores match the local backend's


def collection(prefix: str, version: str, kind: str) -> str:
    return f"{prefix}{version}_{kind}"


def _text(schema: CollectionSchema, *names: str) -> None:
    for name in names:
        schema.add_field(name, DataType.VARCHAR, max_length=VARCHAR_BYTES)


def _ints(schema: CollectionSchema, *names: str) -> None:
    for name in names:
        schema.add_field(name, DataType.INT64)


def chunks_schema(dim: int) -> CollectionSchema:
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    _text(schema, "doc_id", "source", "date", "text", "embedded")
    _ints(schema, "doc_key", "source_key", "start", "end", "seg_first", "seg_last", "seg_base")
    schema.add_field("terms", DataType.VARCHAR, max_length=VARCHAR_BYTES, enable_analyzer=True,
                     analyzer_params=ANALYZER)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                 output_field_names=["sparse"]))
    return schema


def sentences_schema(dim: int) -> CollectionSchema:
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    _ints(schema, "doc_key", "seg_no", "start", "end")
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    return schema


def articles_schema() -> CollectionSchema:
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    _ints(schema, "doc_key", "part", "body_start")
    _text(schema, "doc_id", "path", "title", "date", "source", "url", "sha256", "text")
    schema.add_field("pad", DataType.FLOAT_VECTOR, dim=len(PAD))
    return schema


def terms_schema() -> CollectionSchema:
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)  # the term's key
    _text(schema, "term")
    _ints(schema, "df")
    schema.add_field("pad", DataType.FLOAT_VECTOR, dim=len(PAD))
    return schema


def meta_schema() -> CollectionSchema:
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
    _text(schema, "kind", "version", "value")
    schema.add_field("expires", DataType.DOUBLE)
    schema.add_field("pad", DataType.FLOAT_VECTOR, dim=len(PAD))
    return schema


def dense_index(index_type: str, vectors: Any, n: int) -> tuple[dict, dict]:
    """Build and search parameters of the dense index, from the `vectors.*` settings the local
    backend's FAISS index takes too."""
    nlist = vectors.nlist or max(1, min(4 * int(n ** 0.5), 65536))
    if index_type in ("IVF_FLAT", "IVF_SQ8"):
        return {"nlist": nlist}, {"nprobe": min(vectors.nprobe, nlist)}
    if index_type == "HNSW":
        return {"M": vectors.hnsw_m, "efConstruction": vectors.ef_construction}, {"ef": vectors.ef_search}
    return {}, {}


def index_params(kind: str, index_type: str = "FLAT", build: dict | None = None) -> IndexParams:
    """The indexes a kind of collection needs before it can be loaded."""
    params = MilvusClient.prepare_index_params()
    if kind == "chunks":
        params.add_index("vector", index_type=index_type, metric_type="IP", params=build or {})
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=BM25_PARAMS)
    elif kind == "sentences":  # read by id only; FLAT costs no build
        params.add_index("vector", index_type="FLAT", metric_type="IP")
    else:
        params.add_index("pad", index_type="FLAT", metric_type="L2")
    return params
