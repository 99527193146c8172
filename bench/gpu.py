"""`python -m bench.gpu MULTIHOP_DIR` (run by bench/gpu.sh on a CUDA machine): the MultiHop-RAG
build with `model.device: cuda` timed as a `qa index build` process, bare `encode` of the same texts
on that GPU, and the benchmark's quality figures on that index. Prints one JSON object."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench.build import embedded_texts
from bench.common import ROOT, qa, write_config
from bench.raw import encode_rate

KEPT = ("queries", "MRR@10", "MAP@10", "Hits@4", "Hits@10", "reachable")


def main(multihop: Path) -> dict:
    """Build, raw encode, evaluate; the figures bench/gpu.sh prints."""
    work = Path(tempfile.mkdtemp(prefix="newsqa-gpu-"))
    try:
        (work / "data").mkdir()
        shutil.copyfile(multihop / "corpus.json", work / "data" / "corpus.json")  # same bytes: eval reuses the index
        config = write_config(work, model={"device": "cuda"})
        seconds = qa("index", "build", config=config)
        texts = embedded_texts(work / "index")
        raw = encode_rate(texts, batch_size=32, device="cuda")
        started = time.perf_counter()
        quality = json.loads(subprocess.run(
            [sys.executable, "-m", "qa", "eval", "--multihop", str(multihop), "--keep-index", str(work), "--json",
             "--config", str(config)], cwd=ROOT, check=True, capture_output=True, text=True).stdout)
        return {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "chunks": len(texts),
                "build_s": round(seconds, 1), "build_chunks_per_s": round(len(texts) / seconds, 1),
                "raw_encode_chunks_per_s": round(raw, 1), "ratio": round(len(texts) / seconds / raw, 3),
                "eval_s": round(time.perf_counter() - started, 1), **{k: quality[k] for k in KEPT}}
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1])), indent=2))
