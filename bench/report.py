"""docs/performance.md from the stored figures: every target, met or not, with its gap stated."""

from __future__ import annotations

import math
from pathlib import Path

from bench.peers import MULTIHOP_FIGURES, OUR_MULTIHOP_FIGURES, OUR_QUESTION_FIGURES, QUESTION_FIGURES

COMMAND = "python -m bench"  # add --only PART,... and --sizes N,... to rerun parts
RATIO_TARGET = 0.95  # build chunks/s against bare encode of the same texts (issue 12; 0.9 before)
# One GPU, not measured here: NVIDIA's datasheet FP32 peak of an A100 (40 GB, SXM), MiniLM-L6's
# forward cost for one 254-token chunk (6 layers of 384-wide projections and a 1536-wide MLP, plus
# attention: about 6.0 GFLOP), and an assumed half of the peak reached (bench/gpu.sh measures it).
GPU = {"name": "NVIDIA A100 40 GB (datasheet FP32 peak 19.5 TFLOPS; not measured here)",
       "peak_flops": 19.5e12, "utilization": 0.5, "flops_per_chunk": 6.0e9}


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**not met**")


def _when(r: dict, part: str) -> str:
    """When and how `part` was measured; the scale part, once per size (each may come from another run)."""
    when = r.get("when", {})
    keys = [part] * (part in when) + sorted((k for k in when if k.startswith(f"{part} ")),
                                            key=lambda k: int(k.rsplit(" ", 1)[1]))
    lines = (f"_measured {w['at']} by `{w.get('command', COMMAND)}`, load average before "
             f"{w['load_before']}, after {w['load_after']}_" for w in (when[k] for k in keys))
    return "\n\n".join(dict.fromkeys(lines))  # sizes measured by one run share one line


def _build_met(b: dict) -> bool:
    """Wall ratio at the target, and the CPU ratio too where measured: on a shared machine a wall
    ratio above the CPU ratio can come from load that fell between the build and bare encode."""
    return b["ratio"] >= RATIO_TARGET and b.get("cpu_ratio", b["ratio"]) >= RATIO_TARGET


def _build(r: dict) -> list[str]:
    b = r.get("build")
    if not b:
        return ["_not run_"]
    rounds = b.get("rounds", [])
    each = "; ".join(f"{x['ratio']} ({x['cpu_ratio']})" for x in rounds)
    return [_when(r, "build"), "",
            f"| articles | chunks | `qa index build` | build chunks/s | raw `encode` chunks/s | ratio (target ≥ {RATIO_TARGET}) "
            "| CPU s: build / raw (ratio) |",
            "|---|---|---|---|---|---|---|",
            f"| {b['articles']} | {b['chunks']} | {b['build_s']} s | {b['build_chunks_per_s']} | "
            f"{b['raw_chunks_per_s']} | {b['ratio']} ({_mark(_build_met(b))}) | "
            f"{b.get('build_cpu_s', '–')} / {b.get('raw_cpu_s', '–')} ({b.get('cpu_ratio', '–')}) |"] + (
            ["", f"The round with the median ratio of {len(rounds)} alternating build / bare encode rounds; "
                 f"every round's ratio (CPU ratio): {each}."] if len(rounds) > 1 else []) + (
            ["", "Bare encode ran with the allocator setting the build's encoding runs under "
                 "(`qa.encoder.reused_memory`), which it gains from as much as the build does."]
            if b.get("raw_reused_memory") else [])


def _serving_row(name: str, m: dict) -> str:
    idx = m["index"]
    kind = idx["kind"] + (f" nlist={idx['nlist']}" if "nlist" in idx else "") + (" SQ8" if idx.get("sq8") else "")
    return (f"| {name} | {m['chunks']:,} | {kind} | {m['raw']['p50_ms']} / {m['raw']['p99_ms']} | "
            f"{m['http']['p50_ms']} / {m['http']['p99_ms']} | {m['p50_ratio']} / {m['p99_ratio']} | {_own(m)} | "
            f"{m['search']['p50_ms']} / {m['search']['p99_ms']} | {m.get('recall_at_10', 'exact')} | "
            f"{m['worker_rss_mb']} / {m.get('worker_anon_mb', '–')} ({m['total_rss_mb']}) | {m['disk_mb']} | "
            f"{m['ready_s']} |")


def _own(m: dict) -> str:
    """The floor with the server's own question encoder (`model.query_runtime`), and HTTP against it."""
    if "raw_own" not in m:
        return "–"
    own = m["raw_own"]
    return f"{m['query_runtime']}: {own['p50_ms']} / {own['p99_ms']} ({m['own_ratio'][0]} / {m['own_ratio'][1]})"


def _own_target(m: dict, p50: float, p99: float) -> str:
    """The same ratio targets against the floor of the encoder the server really runs: the raw floor is
    bare `SentenceTransformer.encode`, and a server encoding with a faster runtime must not hide its
    own cost behind the slower one."""
    if "own_ratio" not in m:
        return ""
    own = m["own_ratio"]
    return (f". Against the server's own question encoder ({m['query_runtime']}, "
            f"{m['raw_own']['p50_ms']} / {m['raw_own']['p99_ms']} ms with the search): p50 {own[0]}: "
            f"{_mark(own[0] <= p50)}; p99 {own[1]}: {_mark(own[1] <= p99)}")


def _serving(r: dict) -> list[str]:
    rows = []
    if r.get("latency"):
        rows.append(_serving_row("MultiHop-RAG (real)", r["latency"]))
    for size, m in sorted(r.get("scale", {}).items(), key=lambda kv: int(kv[0])):
        rows.append(_serving_row(f"{int(size):,} ({m['real_chunks']:,} real)", m))
    if not rows:
        return ["_not run_"]
    return [_when(r, "latency"), "", _when(r, "scale"), "",
            "| index | chunks | kind | raw encode+search p50 / p99 ms | HTTP /api/ask p50 / p99 ms | ratio p50 / p99 | "
            "the server's encoder + search p50 / p99 ms (HTTP ratio) | "
            "faiss search p50 / p99 ms | recall@10 vs exact | worker RSS / own (anonymous) MB (all) | disk MB | ready s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|", *rows]


def _throughput(r: dict) -> list[str]:
    t = r.get("throughput")
    if not t:
        return ["_not run_"]
    rows = [f"| {lv['users']} | {lv['rps']} | {lv['requests']} | {lv['failures']} | {lv['p50_ms']} | {lv['p99_ms']} |"
            for lv in t["levels"]]
    return [_when(r, "throughput"), "",
            f"`qa serve --workers {t['workers']} --threads {t['threads']}` on the MultiHop-RAG index; locust headless "
            f"on the same machine (it shares the 2 cores), {t['seconds_per_level']} s per level, each level against "
            "a fresh server, each question asked once.", "",
            "| users | requests/s | requests | failed | p50 ms | p99 ms |", "|---|---|---|---|---|---|", *rows]


def _update(r: dict) -> list[str]:
    u = r.get("update")
    if not u:
        return ["_not run_"]
    if not u["available"]:
        return ["`qa index update` did not exist when this ran (it is another engineer's part of the issue); "
                "rerun `python -m bench --only update` once it lands."]
    return [_when(r, "update"), "", "| incremental update (1 article changed) | full rebuild | speedup |", "|---|---|---|",
            f"| {u['update_s']} s | {u['rebuild_s']} s | {u['speedup']}× |"]


def _backends(r: dict) -> list[str]:
    bk = r.get("backends")
    if not bk:
        return ["_not run_"]
    base = bk["torch"]
    rows = []
    for name, b in bk.items():
        d_seed = b["seed"]["MRR@10"] - base["seed"]["MRR@10"]
        d_mh = b["multihop"]["MRR@10"] - base["multihop"]["MRR@10"]
        rows.append(f"| {name} | {b['chunks_per_s']} ({b['chunks_per_s'] / base['chunks_per_s']:.2f}×) | "
                    f"{b['query_encode']['p50_ms']} / {b['query_encode']['p99_ms']} | "
                    f"{b['seed']['MRR@10']} ({d_seed:+.4f}) | {b['multihop']['MRR@10']} ({d_mh:+.4f}) |")
    changed = [f"{n} changes MRR@10 by {b[s]['MRR@10'] - base[s]['MRR@10']:+.4f} on {s}"
               for n, b in bk.items() for s in ("seed", "multihop") if abs(b[s]["MRR@10"] - base[s]["MRR@10"]) > 0.01]
    mh = base["multihop"]
    return [_when(r, "backends"), "",
            f"Chunk encoding (with the late-pooled sentence vectors) on {256} chunks, query encoding of 100 questions "
            f"one at a time; MRR@10 by `qa eval` on the seed questions ({base['seed']['questions']}) and on "
            f"MultiHop-RAG ({mh['queries']} queries, their {mh['articles']} gold articles only, {mh['chunks']} chunks), "
            "each with an index built by that backend.", "",
            "| backend | chunks/s (vs torch) | query encode p50 / p99 ms | seed MRR@10 (Δ) | MultiHop MRR@10 (Δ) |",
            "|---|---|---|---|---|", *rows, "",
            "**Quality change over 0.01 in MRR@10:** " + ("; ".join(changed) + "." if changed else "none.")]


def _na(figures: dict, key: str) -> str:
    """A figure only our service has (abstention): n/a for a peer."""
    return str(figures[key]) if key in figures else "n/a"


def _peer_rows(sets: dict, prefix: str, counts: tuple[str, str], keys: tuple[str, ...],
               own: tuple[str, str]) -> list[str]:
    """One row per set (its name starting with `prefix`) and system: its two `counts`, `keys`,
    then our two abstention figures (n/a for peers) and p50."""
    return [f"| {name} | {system} | {f[counts[0]]} ({f[counts[1]]}) | " + " | ".join(str(f[k]) for k in keys)
            + f" | {_na(f, own[0])} | {_na(f, own[1])} | {f['p50_ms']} |"
            for name, by_system in sets.items() if name.startswith(prefix) for system, f in by_system.items()]


def _peers(r: dict) -> list[str]:
    """Ours, txtai and bm25s on every question set: what each indexed and spent, then the figures."""
    pe = r.get("peers")
    if not pe:
        return ["_not run_"]
    cost = [f"| {corpus} ({idx['articles']} articles) | {system} | {c['chunks']:,} | "
            f"{'reused' if c.get('build_s', '') is None else c.get('build_s', 'ours')} | {c['ask_s']} |"
            for corpus, idx in pe["indexes"].items() for system, c in idx["systems"].items()]
    asked = ("questions", "answerable")
    return [_when(r, "peers"), "",
            f"Each system over the same chunks: txtai {pe['versions']['txtai']} `Embeddings(content=True, hybrid=True, "
            f"path=<the packaged {pe['model']}>)` and plain bm25s {pe['versions']['bm25s']} (PyStemmer English "
            "stemmer, English stop words, BM25 defaults) index the chunk texts of our index, read through the "
            "storage interface; ours is the default config asked through `Answerer.ask` (the title/outlet/date "
            "header is ours only), and `ours weighted` / `ours bm25` / `ours dense` the same index and service "
            "with `search.ranker: weighted`, alone or with `search.mode: bm25` / `dense` (one retriever, no trees)."
            f" Top {pe['top_k']}, scored by `qa eval`'s own code; p50 = in-process time per "
            "question (a peer ignores a follow-up's history).", "",
            "| index | system | chunks indexed | build s | answering all its questions s |", "|---|---|---|---|---|",
            *cost, "",
            "| set | system | questions (answerable) | recall@1 | recall@5 | recall@10 | MRR@10 | "
            "abstention on unanswerable | false abstentions | p50 ms |", "|---|---|---|---|---|---|---|---|---|---|",
            *_peer_rows(pe["sets"], "seed", asked, QUESTION_FIGURES, OUR_QUESTION_FIGURES),
            *_peer_rows(pe["sets"], "facts", asked, QUESTION_FIGURES, OUR_QUESTION_FIGURES), "",
            "MultiHop-RAG, queries by position in MultiHopRAG.json (null queries out of the ranking figures):", "",
            "| set | system | queries (null) | MRR@10 | MAP@10 | Hits@1 | Hits@4 | Hits@5 | Hits@10 | abstention on "
            "null queries | false abstention (share) | p50 ms |", "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *_peer_rows(pe["sets"], "multihop", ("queries", "null_queries"), MULTIHOP_FIGURES, OUR_MULTIHOP_FIGURES)]


def _hours(rate: float) -> str:
    return " | ".join(f"{n / rate / 3600:,.1f}" for n in (1e6, 1e7))


def _extrapolation(r: dict, so: dict) -> list[str]:
    """Hours per 1M and 10M chunks from measured rates; what each row assumes is stated in it."""
    build = (r.get("build") or {}).get("build_chunks_per_s") or so["ray"]["single_chunks_per_s"]
    enc = so["encoders"]
    int8 = build * enc["onnx-int8"]["chunks_per_s"] / enc["torch"]["chunks_per_s"]
    planning = so["planning"]["chunks_per_s"]
    gpu = GPU["peak_flops"] * GPU["utilization"] / GPU["flops_per_chunk"]
    rows = [f"| this machine, one process, torch (measured build rate {build}/s) | {_hours(build)} |",
            f"| this machine, onnx-int8 (build rate × its encoder speed-up over torch: {int8:.1f}/s) | {_hours(int8)} |"]
    for n in (10, 100):
        capped = min(n * build, planning)
        rows.append(f"| {n} machines like it on Ray, linear (min({n} × {build}/s, one driver planning process's "
                    f"{planning}/s) = {capped:,.1f}/s) | {_hours(capped)} |")
    rows.append(f"| one GPU: {GPU['name']}, {GPU['utilization']:.0%} of peak / {GPU['flops_per_chunk'] / 1e9:.1f} "
                f"GFLOP a chunk = {gpu:,.0f}/s, if {math.ceil(gpu / planning)} planning processes at {planning}/s "
                f"each keep up (a GPU build plans on the cores but one) | {_hours(gpu)} |")
    return ["| where | hours per 1M chunks | hours per 10M chunks |", "|---|---|---|", *rows]


def _scaleout(r: dict) -> list[str]:
    so = r.get("scaleout")
    if not so:
        return ["_not run_"]
    base = so["encoders"]["torch"]["chunks_per_s"]
    enc = [f"| {name} | {e['chunks_per_s']} ({e['chunks_per_s'] / base:.2f}×) |" for name, e in so["encoders"].items()]
    ray, plan = so["ray"], so["planning"]
    return [_when(r, "scaleout"), "",
            f"Encoders: `Encoder.encode_chunks` (chunk and late-pooled sentence vectors) of the same {256} distinct "
            "MultiHop-RAG chunks, in the bench process.", "",
            "| backend | chunks/s (vs torch) |", "|---|---|", *enc, "",
            f"Planning alone (pysbd sentences, chunking, token counts; one process): {plan['chunks']} chunks of "
            f"{plan['articles']} articles in {plan['seconds']} s, {plan['chunks_per_s']} chunks/s.", "",
            f"`qa index build` of the first {ray['articles']} MultiHop-RAG articles ({ray['chunks']} chunks), each "
            "into an empty index folder, in one process and with `--ray` on a local cluster of this machine "
            "(started and stopped by the build; `build.ray_actors`):", "",
            "| build | seconds | chunks/s |", "|---|---|---|",
            f"| one process | {ray['single_s']} | {ray['single_chunks_per_s']} |",
            f"| Ray, 1 actor (2 threads) | {ray['ray1_s']} | {ray['ray1_chunks_per_s']} |",
            f"| Ray, 2 actors (1 thread each) | {ray['ray2_s']} | {ray['ray2_chunks_per_s']} |", "",
            "Extrapolated (not measured at that size):", "", *_extrapolation(r, so)]


def _milvus_row(name: str, m: dict, side: dict, search: dict | None, recall) -> str:
    dense_bm25 = f"{search['dense']['p50_ms']} / {search['bm25']['p50_ms']}" if search else "–"
    milvus = f"{m['milvus_rss_mb']} | {m['milvus_disk_mb']}" if search else "– | –"
    ready = f"{side['ready_s']}" + (f" / {m['milvus_ready_s']}" if search else "")
    return (f"| {name} | {m['chunks']:,} | {m['raw']['p50_ms']} / {m['raw']['p99_ms']} | {side['http']['p50_ms']} / "
            f"{side['http']['p99_ms']} | {side['p50_ratio']} / {side['p99_ratio']} | {dense_bm25} | {recall} | "
            f"{side['worker_rss_mb']} ({side['total_rss_mb']}) | {milvus} | {ready} |")


def _milvus(r: dict) -> list[str]:
    mv = r.get("milvus")
    if not mv:
        return ["_not run_ (`python -m bench --backend milvus`)"]
    out = [line for part in ("build", "update", "latency", "scale") if part in mv
           for line in (f"{part}: {_when(r, f'milvus {part}')}", "")]
    b, u = mv.get("build"), mv.get("update")
    if b and u:
        out += ["| backend | build from a full embedding cache | update, 1 article changed | Milvus RSS after build |",
                "|---|---|---|---|",
                f"| local | {b['local_build_s']} s | {u['local']['update_s']} s | – |",
                f"| Milvus | {b['milvus_build_s']} s | {u['milvus']['update_s']} s | {b['milvus_rss_mb']} MB |", ""]
    rows = []
    if mv.get("latency"):
        m = mv["latency"]
        rows += [_milvus_row("MultiHop-RAG, local", m, m["local"], None, "exact"),
                 _milvus_row("MultiHop-RAG, Milvus FLAT", m, m["milvus"], m["milvus_search"], "exact")]
    for size, m in sorted(mv.get("scale", {}).items(), key=lambda kv: int(kv[0])):
        rows.append(_milvus_row(f"{int(size):,} synthetic, Milvus IVF_FLAT", m, m["milvus"], m["milvus_search"],
                                m["recall_at_10"]))
    if rows:
        out += ["| index | chunks | raw encode+search p50 / p99 ms | HTTP /api/ask p50 / p99 ms | ratio p50 / p99 | "
                "bare Milvus dense / BM25 top-10 p50 ms | recall@10 vs exact | API worker RSS MB (all) | "
                "Milvus RSS MB | Milvus disk MB | ready s (API / Milvus restart) |",
                "|---|---|---|---|---|---|---|---|---|---|---|", *rows]
    return out


def _targets(r: dict) -> list[str]:
    out = []
    b, lat, sc = r.get("build"), r.get("latency"), r.get("scale", {})
    if b:
        out.append(f"- Build ratio {b['ratio']}, CPU ratio {b.get('cpu_ratio', '–')} (target ≥ {RATIO_TARGET}): "
                   f"{_mark(_build_met(b))}.")
    ten = sc.get("10000") or lat
    if ten:
        out.append(f"- Query p50 ratio at {ten['chunks']:,} chunks {ten['p50_ratio']} (target ≤ 1.5): "
                   f"{_mark(ten['p50_ratio'] <= 1.5)}; HTTP p50 {ten['http']['p50_ms']} ms / p99 "
                   f"{ten['http']['p99_ms']} ms against the txtai peer's 16.7 / 22.3 ms in-process: "
                   f"{_mark(ten['http']['p50_ms'] < 16.7 and ten['http']['p99_ms'] < 22.3)}.")
    if lat:
        out.append(f"- MultiHop-RAG index ({lat['chunks']:,} chunks): HTTP/raw ratio p50 {lat['p50_ratio']} (target ≤ 1.5): "
                   f"{_mark(lat['p50_ratio'] <= 1.5)}; p99 {lat['p99_ratio']} (≤ 2): {_mark(lat['p99_ratio'] <= 2)}"
                   f"{_own_target(lat, 1.5, 2)}.")
    m = sc.get("1000000")
    if m:
        out += [f"- 1M chunks: HTTP/raw ratio p50 {m['p50_ratio']} (target ≤ 2): {_mark(m['p50_ratio'] <= 2)}; p99 "
                f"{m['p99_ratio']} (≤ 3): {_mark(m['p99_ratio'] <= 3)}; recall@10 {m['recall_at_10']} (≥ 0.95): "
                f"{_mark(m['recall_at_10'] >= 0.95)}; worker RSS {m['worker_rss_mb']} MB (≤ 1024): "
                f"{_mark(m['worker_rss_mb'] <= 1024)}, of which its own (anonymous) {m.get('worker_anon_mb', '–')} MB; "
                f"ready {m['ready_s']} s (≤ 5): {_mark(m['ready_s'] <= 5)}{_own_target(m, 2, 3)}."]
    t = r.get("throughput")
    if t:
        failed = sum(lv["failures"] for lv in t["levels"])
        out.append(f"- Throughput: {failed} failed requests at 1–64 users (target 0): {_mark(failed == 0)}.")
    return out


def _closing(r: dict) -> list[str]:
    b, sc = r.get("build"), r.get("scale", {})
    ten = sc.get("10000") or r.get("latency")
    bits = []
    if b:
        bits.append(f"build ratio {b['ratio']} ({b['chunks']} chunks)")
    if ten:
        bits.append(f"query p50 ratio {ten['p50_ratio']} and p99 ratio {ten['p99_ratio']} at {ten['chunks']:,} chunks")
    for size, m in sorted(sc.items(), key=lambda kv: int(kv[0])):
        bits.append(f"{int(size):,} chunks: HTTP p50 {m['http']['p50_ms']} ms, recall@10 {m['recall_at_10']}")
    commands = sorted({w.get("command", COMMAND) for w in r.get("when", {}).values()})
    return ["## Closing note", "", f"Ratios: {'; '.join(bits) or 'none measured yet'}. Produced by "
            + ", ".join(f"`{c}`" for c in commands) + "; rerun `python -m bench` on an idle machine for clean figures."]


def write(r: dict, path: Path, notes: Path | None = None) -> None:
    mc = r.get("machine", {})
    p = r.get("profile")
    lines = [
        "# Performance", "",
        f"Measured with `{COMMAND}` (parts: `--only build,latency,scale,throughput,profile,update,backends,scaleout,peers`, scale sizes: "
        "`--sizes 10000,100000,1000000`). Figures are stored in `docs/performance.json`; this page is rewritten "
        "from them.", "",
        f"**Machine:** {mc.get('cores')} cores, {mc.get('cpu')}, {mc.get('memory_gb')} GB memory, no GPU; "
        f"Python {mc.get('python')}. The load average is given with each part: other work on the same 2 cores "
        "inflates every figure.", "",
        "## Targets", "", *_targets(r), "",
        "## Build (MultiHop-RAG articles)", "", *_build(r), "",
        "## Query latency and scale", "",
        "Raw cost = `SentenceTransformer.encode([q])` + one faiss search of the same index, in the bench process; "
        "HTTP = POST /api/ask from a separate client process (keep-alive), one distinct MultiHop-RAG question "
        "each; `qa serve --workers 1 --threads 4`. Above the real chunk count, vectors are real chunk embeddings "
        "plus Gaussian noise (cosine ≈ 0.9 to their source), with metadata rows copied from their source chunk.", "",
        *_serving(r), "",
        "## Milvus backend (`storage.backend: milvus`)", "",
        "`python -m bench --backend milvus`: Milvus Lite 2.5.1 run as its own server process on a loopback port "
        "(`milvus_lite.server.Server`), so its memory is measured apart from the API server's; the Milvus API "
        "server has no index or data folder. On the real index a local and a Milvus `qa serve` answer the same "
        "distinct questions in alternating rounds with the raw floor (bare encode + faiss search, as above). "
        "Builds and updates take every vector from the embedding cache (`qa index update`; encoding is the "
        "same code on both backends), so their times are the storage's part. Scale rows: synthetic chunks as "
        "above, written into a fresh Milvus with `storage.milvus.index_type: IVF_FLAT` (nlist 4·√chunks, "
        "nprobe 32 from `vectors.*`); the raw floor's faiss index is the local backend's for that size; "
        "Milvus restart = start of the Milvus process until the version answers a search. "
        "docs/scale-out.md turns these figures into sizes per million chunks.", "",
        *_milvus(r), "",
        "## Throughput", "", *_throughput(r), "",
        "## Incremental update", "", *_update(r), "",
        "## Encoder backends (`model.backend`)", "", *_backends(r), "",
        "## Past one process: GPU, Ray, lower precision", "", *_scaleout(r), "",
        "## Peers side by side: txtai and bm25s over our chunks (`--only peers`)", "", *_peers(r), "",
        "## Profile of /api/ask", "",
        *([f"pyinstrument over {p['requests']} requests through the Flask app (test client), real model and index "
           "(MultiHop-RAG):", "", "```", p["top"], "```"] if p else ["_not run_"]), "",
    ]
    if notes is not None and notes.exists():
        lines += [notes.read_text().strip(), ""]
    path.write_text("\n".join(lines + _closing(r) + [""]))
