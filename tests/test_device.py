"""model.device: which device `auto` picks (torch's CUDA availability faked), one clear error for a
device that is absent or unknown, and vectors built on the chosen device equal to the CPU's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qa.config import ModelConfig, load_config
from qa.encoder import Encoder, _normalize, _pool, resolve_device
from qa.errors import ConfigError

TEXTS = ["Harbour | Alpha | 2024-03-02\nThe harbour reopened on Monday. Ships returned at once.",
         "A short note about the bridge."]
SPANS = [[(29, 60), (61, 85)], [(0, 30)]]


@pytest.mark.parametrize("gpu,want", [(True, "cuda"), (False, "cpu")])
def test_auto_takes_cuda_when_torch_sees_a_gpu(monkeypatch, gpu, want):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert resolve_device("auto", "torch") == want
    assert resolve_device("cpu", "torch") == "cpu"


def test_onnx_runs_on_the_cpu_whatever_torch_sees(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto", "onnx-int8") == "cpu"
    with pytest.raises(ConfigError, match="model.device cuda needs model.backend: torch"):
        resolve_device("cuda", "onnx")


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_an_absent_device_is_one_clear_error(monkeypatch, device):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=f"model.device is {device} but torch .* sees no such device"):
        resolve_device(device, "torch")


def test_an_unknown_device_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown model.device 'tpu'"):
        resolve_device("tpu", "torch")
    (tmp_path / "c.yaml").write_text("model:\n  device: tpu\n")
    with pytest.raises(ConfigError, match="'model.device' must be one of auto, cpu, cuda, mps"):
        load_config(tmp_path / "c.yaml")


def test_vectors_on_the_chosen_device_equal_the_cpus(encoder):
    """On a GPU machine `auto` is CUDA and this compares it with the CPU; here both are the CPU."""
    chosen = Encoder(ModelConfig(device="auto"))
    assert chosen.device == ("cuda" if torch.cuda.is_available() else "cpu") and encoder.device == "cpu"
    got, got_spans = chosen.encode_chunks(TEXTS, SPANS)
    want, want_spans = encoder.encode_chunks(TEXTS, SPANS)
    assert np.min(np.sum(got * want, axis=1)) >= 0.9999
    for g, w in zip(got_spans, want_spans):
        assert np.min(np.sum(g * w, axis=1)) >= 0.9999


def test_chunk_vectors_are_the_ones_encode_gives(encoder):
    """The build's own batches (one tokenizer pass, pooling from its offsets) change no vector."""
    texts = TEXTS * 20  # more than one batch, in sentence-transformers' own order
    got, _ = encoder.encode_chunks(texts, [SPANS[i % 2] for i in range(len(texts))])
    want = _normalize(encoder.model.encode(texts, batch_size=encoder.batch_size))
    np.testing.assert_array_equal(got, want)


def test_pooling_takes_the_tokens_wholly_inside_each_span():
    tokens = np.arange(12, dtype=np.float32).reshape(6, 2) + 1
    offsets = np.array([[0, 0], [0, 3], [4, 7], [7, 9], [10, 12], [0, 0]])  # [CLS] ... [SEP]
    vecs = _pool(tokens, offsets, [(0, 9), (10, 12), (13, 20)], whole=np.array([3.0, 4.0], dtype=np.float32))
    expected = np.array([tokens[1:4].mean(axis=0), tokens[4], [3.0, 4.0]])
    np.testing.assert_allclose(vecs, expected / np.linalg.norm(expected, axis=1, keepdims=True), rtol=1e-6)
