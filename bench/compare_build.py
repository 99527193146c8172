"""`python -m bench.compare_build OLD_TREE DATA_DIR`: `qa index build` of DATA_DIR by the code in
OLD_TREE (e.g. `git archive COMMIT | tar -x -C OLD_TREE`) and by this tree, each into an empty index
folder, then bare `encode` of the same texts: wall and CPU seconds of each and their ratios.

CPU time is the figure to compare on a shared machine: it stands still while other work takes the
cores, wall time does not (both builds run back to back, under whatever load there is).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.build import embedded_texts
from bench.common import ROOT
from bench.raw import encode_cost


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build(tree: Path, data: Path, index: Path) -> dict:
    """One `qa index build` with the `qa` package of `tree`: wall and CPU seconds (its children included)."""
    cpu, started = _children_cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "qa", "index", "build", "--data", str(data), "--index", str(index)],
                   cwd=tree, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {"wall_s": round(time.perf_counter() - started, 1), "cpu_s": round(_children_cpu() - cpu, 1),
            "load": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.compare_build", description=__doc__)
    ap.add_argument("old", type=Path, help="a tree of the code to compare with (its qa package is run)")
    ap.add_argument("data", type=Path, help="articles folder to build")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsqa-compare-") as tmp:
        out = {name: build(tree, args.data.resolve(), Path(tmp) / name)
               for name, tree in (("before", args.old.resolve()), ("after", ROOT))}
        texts = embedded_texts(Path(tmp) / "after")
        wall, cpu = encode_cost(texts, batch_size=32)
        out["raw"] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load": round(os.getloadavg()[0], 2)}
        shutil.rmtree(tmp, ignore_errors=True)
    for name in ("before", "after"):
        out[name]["wall_ratio"] = round(wall / out[name]["wall_s"], 3)
        out[name]["cpu_ratio"] = round(cpu / out[name]["cpu_s"], 3)
    print(json.dumps({"chunks": len(texts), **out}, indent=2))


if __name__ == "__main__":
    main()
