"""The human-readable tables `qa eval` prints."""

from __future__ import annotations

import json
from typing import Any, Sequence


def format_questions(summary: dict[str, Any], sweep_rows: Sequence[dict] | None = None) -> str:
    """The human-readable table of a question-set run."""
    lines = [f"{summary['questions']} questions ({summary['answerable']} answerable, "
             f"{summary['unanswerable']} unanswerable)"]
    for key in ("recall@1", "recall@5", "recall@10", "MRR@10", "answer_accuracy", "abstention_unanswerable"):
        lines.append(f"  {key:<26}{summary[key]:.4f}")
    for key in ("false_abstentions", "weak_answerable", "weak_unanswerable"):
        lines.append(f"  {key:<26}{summary[key]}")
    lines.append(f"  {'latency p50 / p95 (ms)':<26}{summary['latency_ms']['p50']:.1f} / {summary['latency_ms']['p95']:.1f}")
    for tag, value in summary["recall@5_by_tag"].items():
        lines.append(f"  {'recall@5 ' + tag:<26}{value:.4f}")
    alt = summary["alternatives"]
    lines.append(f"  {'alternatives':<26}on {alt['questions_with_alternatives']} question(s), "
                 f"{alt['on_questions_whose_sources_agree']} of them where the sources agree; found on "
                 f"{alt['found_where_sources_differ']} of {alt['sources_differ']} where they differ")
    for miss in summary["misses"]:
        lines.append(f"  miss: {json.dumps(miss, ensure_ascii=False)}")
    if sweep_rows:
        lines.append("  threshold  abstention_unanswerable  false_abstentions  correct_withheld")
        lines += [f"  {r['threshold']:<9.2f}  {r['abstention_unanswerable']:<23.4f}  {r['false_abstentions']:<17}  "
                  f"{r['correct_withheld']}" for r in sweep_rows]
    return "\n".join(lines)


def format_multihop(report: dict[str, Any]) -> str:
    """The human-readable table of a MultiHop-RAG run."""
    lines = [f"MultiHop-RAG: {report['queries']} queries ({report['subset']}"
             f"{', limit ' + str(report['limit']) if report['limit'] else ''}), {report['articles']} articles"
             f"{' (gold articles only)' if report['gold_articles_only'] else ''}, {report['chunks']} chunks "
             f"of <= {report['chunking']['max_tokens']} tokens, "
             + ("index reused" if report["build_seconds"] is None else f"built in {report['build_seconds']} s")]
    header = f"  {'':<18}{'queries':>8}{'MRR@10':>9}{'MAP@10':>9}{'Hits@4':>9}{'Hits@10':>9}"
    lines.append(header)
    rows = [("all", {"queries": report["queries"], **report}), *report["by_type"].items()]
    for name, r in rows:
        lines.append(f"  {name:<18}{r['queries']:>8}{r['MRR@10']:>9.4f}{r['MAP@10']:>9.4f}"
                     f"{r['Hits@4']:>9.4f}{r['Hits@10']:>9.4f}")
    lines.append(f"  reachable (a gold fact inside one chunk) {report['reachable']:.4f}")
    lines.append(f"  abstention on {report['null_queries']} null queries {report['null_abstention']:.4f}; "
                 f"false abstention on answerable {report['false_abstention']:.4f}")
    lines.append(f"  weak (closest passages, no answer quoted) on null queries {report['null_weak']:.4f}; "
                 f"on answerable {report['weak']:.4f}")
    lines.append(f"  latency p50 / p95 (ms) {report['latency_ms']['p50']:.1f} / {report['latency_ms']['p95']:.1f}")
    return "\n".join(lines)
