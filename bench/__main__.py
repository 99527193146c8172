"""`python -m bench [--only build,latency,scale,throughput,profile,update,backends,scaleout,peers] [--sizes 10000,100000,1000000]`.

`python -m bench --backend milvus [--only build,latency,scale,update]`: the Milvus backend against the
local one (bench/milvus.py), on the local MultiHop-RAG index that the build part makes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

# torch and faiss each bring an OpenMP runtime whose idle threads spin; on 2 busy cores that made
# a bare encode+search 10-40x slower in the bench process than in a server. Passive waiting, set
# before either loads and inherited by the servers the bench starts, treats both sides alike.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench import backends, build, milvus, peers, profile, report, scale, scaleout, throughput, update
from bench.common import ROOT, load_average, machine

PARTS = ("build", "latency", "scale", "throughput", "profile", "update", "backends", "scaleout", "peers")
RESULTS = ROOT / "docs" / "performance.json"


def _positive(value: str) -> int:
    """A whole number of at least 1, or a usage error that says so."""
    if not value.strip().isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, not {value!r}")
    return int(value)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--only", default=None, help="comma-separated parts to run (default: all of the backend's)")
    ap.add_argument("--backend", choices=("local", "milvus"), default="local",
                    help=f"milvus: the parts {','.join(milvus.PARTS)} on the Milvus backend, against local")
    ap.add_argument("--articles", type=int, default=609, help="MultiHop-RAG articles to build (all: 609)")
    ap.add_argument("--rounds", type=_positive, default=3,
                    help="build / bare encode pairs of the build part (the median ratio is reported)")
    ap.add_argument("--sizes", default="10000,100000,1000000", help="chunk counts of the scale part")
    ap.add_argument("--sq8-above", type=int, default=500000, help="scale indexes above this use vectors.sq8")
    ap.add_argument("--mmap-above", type=int, default=500000, help="scale indexes above this use vectors.mmap")
    ap.add_argument("--seconds", type=int, default=20, help="duration of each throughput level")
    ap.add_argument("--workers", type=int, default=2, help="server workers of the throughput part")
    ap.add_argument("--threads", type=int, default=4, help="threads per worker of the throughput part")
    ap.add_argument("--multihop-limit", type=int, default=200,
                    help="MultiHop-RAG queries (gold articles only) for the backends' quality")
    ap.add_argument("--ray-articles", type=int, default=60,
                    help="MultiHop-RAG articles of the scaleout part's single-process and Ray builds")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "newsqa-bench",
                    help="work folder (the MultiHop-RAG index is built here and reused; the peers part keeps "
                         "its indexes in WORK/seed and WORK/multihop, where a copied index of the corpus is reused)")
    args = ap.parse_args()
    parts = PARTS if args.backend == "local" else milvus.PARTS
    only = [p.strip() for p in (args.only or ",".join(parts)).split(",") if p.strip()]
    unknown = sorted(set(only) - set(parts))
    if unknown:
        ap.error(f"unknown part {unknown[0]} of the {args.backend} backend; parts are {', '.join(parts)}")
    args.work.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = machine()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    runners = {
        "build": lambda: build.run(args.work, args.articles, args.rounds),
        "latency": lambda: scale.latency(args.work),
        "scale": lambda: scale.scale(args.work, sizes, args.sq8_above, args.mmap_above),
        "throughput": lambda: throughput.run(args.work, args.seconds, args.workers, args.threads),
        "profile": lambda: profile.run(args.work),
        "update": lambda: update.run(args.work, results.get("build", {}).get("build_s")),
        "backends": lambda: backends.run(args.work, args.multihop_limit),
        "scaleout": lambda: scaleout.run(args.work, args.ray_articles),
        "peers": lambda: peers.run(args.work),
    }
    if args.backend == "milvus":
        if not (args.work / "index").exists():
            ap.error(f"no MultiHop-RAG index in {args.work}: run `python -m bench --only build` first")
        runners = {"build": lambda: milvus.build(args.work), "latency": lambda: milvus.latency(args.work),
                   "scale": lambda: milvus.scale(args.work, sizes, args.sq8_above),
                   "update": lambda: milvus.update_both(args.work, results.get("milvus", {}).get("build", {}))}
        if not (args.work / "milvus").exists() and {"latency", "update"} & set(only) and "build" not in only:
            only.insert(0, "build")  # they use the Milvus build of the MultiHop-RAG index
    elif not (args.work / "index").exists() and "build" not in only and set(only) - {"peers"}:
        only.insert(0, "build")  # every other part uses the MultiHop-RAG index (peers keeps its own)
    for part in [p for p in parts if p in only]:
        print(f"bench: {part} ...", flush=True)
        before = load_average()
        try:
            figures = runners[part]()
        except Exception as exc:  # one failed part must not lose the others' figures
            print(f"bench: {part} failed: {exc!r}", flush=True)
            continue
        # Re-read before writing: another bench run may have stored its parts meanwhile.
        results = {**results, **(json.loads(RESULTS.read_text()) if RESULTS.exists() else {})}
        place = results if args.backend == "local" else results.setdefault("milvus", {})
        key = part if args.backend == "local" else f"milvus {part}"
        when = {"at": dt.datetime.now().isoformat(timespec="seconds"), "load_before": before,
                "load_after": load_average(), "command": " ".join(["python -m bench", *sys.argv[1:]])}
        # Each scale size keeps the run that measured it: a later run of other sizes merges beside it.
        keys = [f"{key} {size}" for size in figures] if part == "scale" else [key]
        if part == "scale":
            figures = {**place.get("scale", {}), **figures}
        place[part] = figures
        dated = results.setdefault("when", {})
        dated.update({k: when for k in keys})
        if part == "scale" and all(f"{key} {size}" in dated for size in figures):
            dated.pop(key, None)  # one date for every size, from before each size had its own
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(figures, indent=2)[:3000], flush=True)
    report.write(results, ROOT / "docs" / "performance.md", notes=ROOT / "bench" / "notes.md")
    print(f"bench: wrote {ROOT / 'docs' / 'performance.md'}")


if __name__ == "__main__":
    main()
