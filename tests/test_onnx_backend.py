"""The ONNX Runtime encoder: exported locally once, same vectors as torch (int8: nearly), switchable in config."""

from __future__ import annotations

import pytest

from qa.config import ModelConfig, load_config
from qa.errors import ConfigError
from qa.ort_encoder import cache_dir

QUESTIONS = ["How many people died in the Khojaly massacre?", "Who attended the commemoration in Baku?",
             "What happened in February 1992?"]


@pytest.mark.parametrize("backend,min_cos", [("onnx", 0.9999), ("onnx-int8", 0.98)])
def test_onnx_vectors_match_torch(onnx_cache, encoder, backend, min_cos):
    from qa.encoder import Encoder, resolve_model

    onnx = Encoder(ModelConfig(backend=backend))
    assert onnx.backend == backend and onnx.name == encoder.name and onnx.dim == encoder.dim
    exported = sorted(cache_dir(resolve_model(ModelConfig())).glob("*.onnx"))
    assert [p.name for p in exported] == (["model.onnx"] if backend == "onnx" else ["model.onnx", "model_int8.onnx"])

    cos = (onnx.encode_queries(QUESTIONS) * encoder.encode_queries(QUESTIONS)).sum(axis=1)
    assert cos.min() >= min_cos
    texts = ["The first sentence. A second, longer sentence follows it here.", "Short one."]
    spans = [[(0, 19), (20, len(texts[0]))], [(0, 10)]]
    got, got_spans = onnx.encode_chunks(texts, spans)
    want, want_spans = encoder.encode_chunks(texts, spans)
    assert (got * want).sum(axis=1).min() >= min_cos
    for g, w in zip(got_spans, want_spans):
        assert (g * w).sum(axis=1).min() >= min_cos - 0.01


def test_export_happens_once(onnx_cache):
    from qa.encoder import Encoder, resolve_model

    Encoder(ModelConfig(backend="onnx"))
    path = cache_dir(resolve_model(ModelConfig())) / "model.onnx"
    stamp = path.stat().st_mtime_ns
    Encoder(ModelConfig(backend="onnx"))
    assert path.stat().st_mtime_ns == stamp


def test_manifest_records_the_backend_and_device_apart_from_the_model(seed_config):
    from conftest import open_store

    manifest = open_store(seed_config).info.manifest
    assert manifest["model"] == seed_config.model.name and manifest["model_backend"] == "torch"
    assert manifest["model_device"] == "cpu"


def test_unknown_backend_is_a_config_error(tmp_path):
    (tmp_path / "c.yaml").write_text("model:\n  backend: tensorrt\n")
    with pytest.raises(ConfigError, match="'model.backend' must be one of torch, onnx, onnx-int8"):
        load_config(tmp_path / "c.yaml")
