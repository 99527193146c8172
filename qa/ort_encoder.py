"""Question vectors with ONNX Runtime and the model's own tokenizer: no torch in a server.

A server only encodes questions, a few words each. Importing torch and sentence-transformers
costs seconds at every start and hundreds of MB in every worker; ONNX Runtime on an export
of the same weights gives the same vectors (within float rounding, ~2e-7) from a process
that starts in well under a second. The export is made once per model and machine with
torch (`qa index build` makes it, a server missing it makes it on its first start).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.config import ModelConfig
from qa.errors import ConfigError

_MEAN_AND_NORMALIZE = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                       "sentence_transformers.models.Normalize"]
_threads = 0  # ONNX Runtime's own choice until `limit_threads`
SPINNING = "session.intra_op.allow_spinning"  # ONNX Runtime's key: "0" turns it off


def cache_dir(model_path: str) -> Path:
    """Where the exported files of one local model live ($XDG_CACHE_HOME/newsqa/onnx/<model key>)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "newsqa" / "onnx" / hashlib.sha256(str(Path(model_path).resolve()).encode()).hexdigest()[:16]


def onnx_file(model_path: str, backend: str) -> Path:
    """The export that runs `backend`'s weights: int8 for `onnx-int8`, else the float32 export."""
    return cache_dir(model_path) / ("model_int8.onnx" if backend == "onnx-int8" else "model.onnx")


def limit_threads(threads: int) -> None:
    """Threads of each question encoder made from now on (server workers share the cores)."""
    global _threads
    _threads = threads


def check_pipeline(folder: Path) -> tuple[int, int]:
    """(max tokens, dimension) of a sentence-transformers folder whose vectors are the normalized
    mean of the token vectors; anything else is refused, never approximated."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        max_tokens = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))["max_seq_length"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        modules, pooling, max_tokens = [], {}, 0
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
    if ([m.get("type") for m in modules] != _MEAN_AND_NORMALIZE or modes != {"pooling_mode_mean_tokens"}
            or not (folder / "tokenizer.json").is_file() or not max_tokens):
        raise ConfigError(f"model {folder} is not a mean-pooled, normalized sentence-transformers folder with a "
                          "tokenizer.json, so ONNX Runtime cannot encode its questions; set model.query_runtime: torch")
    return int(max_tokens), int(pooling["word_embedding_dimension"])


class OrtQueryEncoder:
    """Encodes questions as `Encoder.encode_queries` does: tokens, transformer, mean over the
    real tokens, unit length."""

    def __init__(self, cfg: ModelConfig, path: str, onnx_path: Path, pipeline: tuple[int, int]):
        """`pipeline`: what `check_pipeline` found in the model folder at `path`."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name, self.backend = cfg.name, cfg.backend
        self.max_tokens, self.dim = pipeline
        self.tokenizer = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_tokens)
        options = ort.SessionOptions()
        options.intra_op_num_threads = _threads
        # Its threads sleep once a question is encoded instead of spinning for more work: a
        # spinning thread takes a core from the rest of the question, and from other requests.
        options.add_session_config_entry(SPINNING, "0")
        try:
            self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types from C++
            raise ConfigError(f"cannot load the ONNX export {onnx_path}: {exc}; delete it and it is made "
                              "again") from None
        self.inputs = [i.name for i in self.session.get_inputs()]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoded = self.tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encoded)
        # Padding is masked out of attention and of the mean, so its token id does not matter.
        feeds = {n: np.zeros((len(texts), width), dtype=np.int64) for n in ("input_ids", "attention_mask",
                                                                           "token_type_ids")}
        for i, e in enumerate(encoded):
            feeds["input_ids"][i, :len(e.ids)] = e.ids
            feeds["attention_mask"][i, :len(e.ids)] = 1
            feeds["token_type_ids"][i, :len(e.ids)] = e.type_ids
        (tokens,) = self.session.run(None, {n: feeds[n] for n in self.inputs})
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        vecs = (tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return (vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)).astype(np.float32)
