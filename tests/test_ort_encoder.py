"""Questions encoded by ONNX Runtime (`model.query_runtime: onnxruntime`, the default): the same
vectors as torch's, no torch in the process, the export made once, and clear refusals."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from qa.config import ModelConfig
from qa.encoder import ensure_query_export, limit_threads, query_encoder, resolve_model
from qa.errors import ConfigError
from qa.ort_encoder import SPINNING, OrtQueryEncoder, onnx_file

QUESTIONS = ["How many people died in the Khojaly massacre?", "Who?",
             "Which legislature adopted a document naming a day of mourning for the tragedy, and when?",
             " ".join(["commemoration"] * 400)]  # beyond the model's 256 tokens: truncated alike


def test_question_vectors_match_torch(encoder):
    ort = query_encoder(ModelConfig())
    assert isinstance(ort, OrtQueryEncoder)
    assert (ort.name, ort.backend, ort.dim) == (encoder.name, encoder.backend, encoder.dim)
    got, want = ort.encode_queries(QUESTIONS), encoder.encode_queries(QUESTIONS)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.abs(got - want).max() < 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    alone = np.vstack([ort.encode_queries([q]) for q in QUESTIONS])  # padding in a batch changes nothing
    assert np.abs(alone - got).max() < 1e-5
    assert ort.encode_queries([]).shape == (0, encoder.dim)


def test_asking_loads_no_torch(seed_config, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"data_dir: {seed_config.data_dir}\nindex_dir: {seed_config.index_dir}\n")
    script = textwrap.dedent(f"""
        import json, sys
        from qa.asking.service import Service
        from qa.config import load_config
        result = Service(load_config({str(config)!r})).answerer().ask("How many people died in the Khojaly massacre?")
        print(json.dumps([len(result.passages), "torch" in sys.modules, "sentence_transformers" in sys.modules]))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    passages, torch_loaded, st_loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert passages > 0 and not torch_loaded and not st_loaded


def test_build_makes_the_export_and_asking_reuses_it(onnx_cache, encoder, monkeypatch):
    cfg = ModelConfig()
    target = onnx_file(resolve_model(cfg), "torch")
    assert not target.exists()
    ensure_query_export(encoder, cfg)
    assert target.is_file()
    import qa.onnx_backend

    monkeypatch.setattr(qa.onnx_backend, "export_model", lambda *a: pytest.fail("exported again"))
    assert query_encoder(cfg).encode_queries(["a question"]).shape == (1, encoder.dim)
    ensure_query_export(encoder, cfg)


def test_a_missing_export_is_made_once(onnx_cache, encoder):
    cfg = ModelConfig()
    target = onnx_file(resolve_model(cfg), "torch")
    target.unlink(missing_ok=True)
    first = query_encoder(cfg)
    stamp = target.stat().st_mtime_ns
    assert np.abs(first.encode_queries(QUESTIONS[:1]) - encoder.encode_queries(QUESTIONS[:1])).max() < 1e-5
    query_encoder(cfg)
    assert target.stat().st_mtime_ns == stamp


def test_a_broken_export_is_a_clear_error(onnx_cache, encoder):
    cfg = ModelConfig()
    target = onnx_file(resolve_model(cfg), "torch")
    ensure_query_export(encoder, cfg)
    saved = target.read_bytes()
    try:
        target.write_bytes(b"not a model")
        with pytest.raises(ConfigError, match="cannot load the ONNX export .*delete it"):
            query_encoder(cfg)
    finally:
        target.write_bytes(saved)


@pytest.mark.parametrize("change", ["cls pooling", "no normalize", "no tokenizer"])
def test_other_pipelines_are_refused(tmp_path, change):
    source = resolve_model(ModelConfig())
    folder = tmp_path / "model"
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    if change == "cls pooling":
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        pooling.update(pooling_mode_cls_token=True, pooling_mode_mean_tokens=False)
        (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    elif change == "no normalize":
        modules = json.loads((folder / "modules.json").read_text())
        (folder / "modules.json").write_text(json.dumps(modules[:2]))
    else:
        (folder / "tokenizer.json").unlink()
    with pytest.raises(ConfigError, match="set model.query_runtime: torch"):
        query_encoder(ModelConfig(name=str(folder)))


def test_threads_follow_the_server_share_and_sleep_between_questions():
    try:
        limit_threads(ModelConfig(), 1)
        options = query_encoder(ModelConfig()).session.get_session_options()
        assert options.intra_op_num_threads == 1
        assert options.get_session_config_entry(SPINNING) == "0"
    finally:
        limit_threads(ModelConfig(), 0)
