"""ONNX Runtime in place of torch for the encoder's transformer; tokenizer, pooling and outputs stay the same.

sentence-transformers' own `backend="onnx"` needs optimum-onnx, whose releases pin transformers
below 4.58 and so cannot be installed beside sentence-transformers 6. The same result is had
from torch's own ONNX exporter and onnxruntime's dynamic int8 quantization, done locally once
and cached: nothing is downloaded.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch

from qa.ort_encoder import onnx_file

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class _Outputs(torch.nn.Module):
    """The transformer as the exporter needs it: named tensors in, token embeddings out."""

    def __init__(self, model: torch.nn.Module, names: list[str]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.names, tensors))).last_hidden_state


def export(model: torch.nn.Module, tokenizer: Any, fp32: Path, target: Path) -> Path:
    """`target`, the ONNX file of `model` (int8-quantized from the float32 export `fp32` when they
    differ), written the first time only, atomically."""
    if target.exists():
        return target
    fp32.parent.mkdir(parents=True, exist_ok=True)
    if not fp32.exists():
        sample = tokenizer(["a short one", "a somewhat longer second sentence"], padding=True, return_tensors="pt")
        names = [n for n in _INPUTS if n in sample]
        tmp = fp32.with_suffix(f".{os.getpid()}.tmp")
        # The tracer warns about shape checks it freezes; the export is checked against torch in tests.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_Outputs(model.eval(), names), tuple(sample[n] for n in names), str(tmp),
                              input_names=names, output_names=["token_embeddings"], opset_version=17,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "token_embeddings"]},
                              dynamo=False)
        os.replace(tmp, fp32)
    if target != fp32:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        # Per-channel int8 weights of the MatMuls keep cosine to fp32 at 0.99 (per-tensor gave 0.94).
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
        os.replace(tmp, target)
    return target


class OrtTransformer(torch.nn.Module):
    """Stands in for the Hugging Face model inside sentence-transformers' Transformer module."""

    def __init__(self, path: Path, config: Any):
        import onnxruntime as ort

        super().__init__()
        self.config = config
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()  # the serve worker's share of the cores
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]

    def forward(self, **features: Any) -> dict[str, torch.Tensor]:
        (hidden,) = self.session.run(None, {n: features[n].cpu().numpy() for n in self.names})
        return {"last_hidden_state": torch.from_numpy(hidden)}


def export_model(model: Any, model_path: str, backend: str) -> Path:
    """The ONNX file of a loaded SentenceTransformer's transformer for `backend` (made if missing)."""
    return export(model[0].model, model.tokenizer, onnx_file(model_path, "onnx"), onnx_file(model_path, backend))


def use_onnx(model: Any, model_path: str, backend: str) -> None:
    """Swap the torch transformer of a loaded SentenceTransformer for ONNX Runtime."""
    transformer = model[0]
    transformer.model = OrtTransformer(export_model(model, model_path, backend), transformer.model.config)
