"""`qa eval`: metric functions on hand-checkable fixtures, the seed question set, the CI gate
on recall@5, and MultiHop-RAG ingest and scoring."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import pytest

from qa.evaluation import metrics, multihop, questions, report as tables
from qa.cli import cli
from qa.config import Config
from qa.indexing.ingest import read_corpus

from conftest import MULTIHOP, ROOT, SEED_DATA, WEAK_EVERYWHERE

SEED_QUESTIONS = ROOT / "eval" / "seed.jsonl"


# ---------------------------------------------------------------- pure metrics

def test_fold_ignores_case_and_white_space():
    assert metrics.fold("  Fate of\n 150   PEOPLE ") == "fate of 150 people"


def test_hit_rank_first_passage_holding_any_gold():
    passages = ["nothing here", "The FATE of 150\npeople", "fate of 197"]
    assert metrics.hit_rank(passages, ["fate of 150 people", "fate of 197"]) == 2
    assert metrics.hit_rank(passages, ["fate of 197"]) == 3
    assert metrics.hit_rank(passages, ["absent"]) is None
    assert metrics.hit_rank([], ["x"]) is None


def test_hit_rank_with_all_needs_every_gold_within_the_ranks():
    passages = ["fate of 197", "other", "fate of 150 people"]
    assert metrics.hit_rank(passages, ["fate of 150 people", "fate of 197"], require_all=True) == 3
    assert metrics.hit_rank(passages[:2], ["fate of 150 people", "fate of 197"], require_all=True) is None
    assert metrics.hit_rank(["fate of 197 and fate of 150 people"], ["fate of 150 people", "fate of 197"],
                       require_all=True) == 1


def test_recall_and_mrr_by_hand():
    ranks = [1, 3, None, 7]
    assert metrics.recall_at(ranks, 1) == 0.25
    assert metrics.recall_at(ranks, 5) == 0.5
    assert metrics.recall_at(ranks, 10) == 0.75
    assert metrics.mrr_at(ranks, 10) == pytest.approx((1 + 1 / 3 + 1 / 7) / 4)
    assert metrics.mrr_at(ranks, 5) == pytest.approx((1 + 1 / 3) / 4)
    assert metrics.recall_at([], 5) == 0.0 and metrics.mrr_at([]) == 0.0


def test_answer_correct_and_rate():
    assert metrics.answer_correct("In all, 25 children lost both parents.", ["25 Children lost both parents"])
    assert not metrics.answer_correct("130 children lost one parent.", ["25 children lost both parents"])
    assert not metrics.answer_correct(None, ["x"])
    assert metrics.rate([True, False, True, True]) == 0.75
    assert metrics.rate([]) == 0.0


def test_latency_percentiles():
    assert metrics.latency([10, 20, 30, 40, 50]) == {"p50": 30.0, "p95": 48.0}
    assert metrics.latency([]) == {"p50": 0.0, "p95": 0.0}


def test_multihop_query_scores_follow_the_official_definition():
    gold = ["alpha beta", "gamma delta", "epsilon"]
    retrieved = ["no", "xx alpha\nbeta yy", "no", "gamma  delta and alpha beta", "epsilon"] + ["no"] * 6
    s = metrics.multihop_query_scores(retrieved, gold)
    assert s["Hits@4"] == 1.0 and s["Hits@10"] == 1.0 and (s["Hits@1"], s["Hits@5"]) == (0.0, 1.0)
    assert s["MRR@10"] == 0.5
    # rank 2 finds one new fact, rank 4 one new (alpha beta is not new), rank 5 one new.
    assert s["MAP@10"] == pytest.approx((1 / 2 + 1 / 4 + 1 / 5) / 3)


def test_multihop_scores_miss_beyond_ten_and_count_a_repeated_fact_once():
    assert metrics.multihop_query_scores(["no"] * 10 + ["alpha beta"], ["alpha beta"]) == {
        "Hits@10": 0.0, "Hits@4": 0.0, "Hits@1": 0.0, "Hits@5": 0.0, "MAP@10": 0.0, "MRR@10": 0.0}
    s = metrics.multihop_query_scores(["no"] * 5 + ["alphabeta"], ["alpha beta", "alpha beta"])
    assert (s["Hits@1"], s["Hits@4"], s["Hits@5"], s["Hits@10"], s["MRR@10"]) == (0.0, 0.0, 0.0, 1.0, 1 / 6)
    # the official code divides by min(len(gold), 10), the repeated fact included
    assert s["MAP@10"] == pytest.approx((1 / 6) / 2)


def test_multihop_metrics_average_over_queries():
    m = metrics.multihop_metrics([["a b"], ["x", "c"]], [["ab"], ["c", "d"]])
    assert m == {"MRR@10": 0.75, "MAP@10": 0.625, "Hits@1": 0.5, "Hits@4": 1.0, "Hits@5": 1.0, "Hits@10": 1.0}
    assert metrics.multihop_metrics([], []) == {"MRR@10": 0.0, "MAP@10": 0.0, "Hits@1": 0.0, "Hits@4": 0.0,
                                                "Hits@5": 0.0, "Hits@10": 0.0}


def test_select_queries_even_odd_and_limit():
    qs = [{"i": i} for i in range(7)]
    assert [q["i"] for q in multihop.select_queries(qs, "even")] == [0, 2, 4, 6]
    assert [q["i"] for q in multihop.select_queries(qs, "odd", limit=2)] == [1, 3]
    assert len(multihop.select_queries(qs, "all", limit=5)) == 5
    with pytest.raises(questions.EvalError, match="unknown query subset"):
        multihop.select_queries(qs, "third")


# ---------------------------------------------------------------- question files

def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_questions_reads_every_field(tmp_path):
    path = _write(tmp_path, json.dumps({"question": "Who spoke there?", "answerable": True, "contains": ["a", "b"],
                                        "all": True, "history": ["Where was it?"], "tag": "follow-up",
                                        "half": "report", "sources_differ": True}),
                  "", json.dumps({"question": "Capital of Peru?", "answerable": False}))
    first, second = questions.load_questions(path)
    assert first == questions.Question("Who spoke there?", True, ("a", "b"), True, ("Where was it?",), "follow-up",
                                       "report", differ=True)
    assert second == questions.Question("Capital of Peru?", False)


@pytest.mark.parametrize("line, message", [
    ("{not json", "malformed JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"question": "q", "answerable": true, "contains": ["x"], "extra": 1}', "unknown field 'extra'"),
    ('{"answerable": false}', "missing 'question'"),
    ('{"question": "   ", "answerable": false}', "'question' is empty"),
    ('{"question": "q", "answerable": "yes", "contains": ["x"]}', "'answerable' must be true or false"),
    ('{"question": "q", "answerable": true}', "needs gold text"),
    ('{"question": "q", "answerable": false, "contains": ["x"]}', "cannot have gold text"),
    ('{"question": "q", "answerable": true, "contains": "x"}', "'contains' must be a list"),
    ('{"question": "q", "answerable": true, "contains": [""]}', "'contains' must be a list"),
    ('{"question": "q", "answerable": true, "contains": ["x"], "all": 1}', "'all' must be true or false"),
    ('{"question": "q", "answerable": true, "contains": ["x"], "history": ["ok", 3]}', "'history' must be a list"),
    ('{"question": "q", "answerable": true, "contains": ["x"], "history": ["a\\u0001b"]}', "in 'history': 'question' contains control"),
    ('{"question": "q", "answerable": true, "contains": ["x"], "tag": 5}', "'tag' must be a string"),
    ('{"question": "q", "answerable": false, "half": "test"}', "'half' must be \"train\" or \"report\""),
    ('{"question": "q", "answerable": true, "contains": ["x"], "sources_differ": "yes"}',
     "'sources_differ' must be true or false"),
])
def test_load_questions_rejects_a_bad_line_naming_it(tmp_path, line, message):
    path = _write(tmp_path, '{"question": "fine", "answerable": false}', line)
    with pytest.raises(questions.EvalError, match=message) as info:
        questions.load_questions(path)
    assert f"{path}:2" in info.value.message


def test_select_half_keeps_one_half_in_file_order():
    qs = [questions.Question(str(i), False, half=h) for i, h in enumerate(["train", "report", "train", None])]
    assert [q.question for q in questions.select_half(qs, "train")] == ["0", "2"]
    assert [q.question for q in questions.select_half(qs, "report")] == ["1"]
    assert questions.select_half(qs, None) == qs
    with pytest.raises(questions.EvalError, match="no questions in the 'report' half"):
        questions.select_half(qs[:1], "report")
    with pytest.raises(questions.EvalError, match="unknown half 'test'"):
        questions.select_half(qs, "test")


def test_load_questions_rejects_empty_and_unreadable_files(tmp_path):
    with pytest.raises(questions.EvalError, match="no questions"):
        questions.load_questions(_write(tmp_path, "", "  "))
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(questions.EvalError, match="cannot read"):
        questions.load_questions(tmp_path / "bin.jsonl")


# ---------------------------------------------------------------- the seed set

def test_seed_set_has_the_required_kinds_of_question():
    qs = questions.load_questions(SEED_QUESTIONS)
    answerable = [q for q in qs if q.answerable]
    assert len(answerable) >= 40
    assert sum(q.tag == "paraphrase" for q in answerable) >= len([q for q in answerable if not q.history]) / 2
    assert sum(not q.answerable for q in qs) >= 15
    assert {q.tag for q in qs if not q.answerable} == {"off-topic", "absent"}
    assert sum(bool(q.history) and q.tag == "follow-up" for q in qs) >= 6
    fate = next(q for q in qs if q.question == "How many people's fate remains unknown?")
    assert fate.all and {"fate of 150 people", "fate of 197"} <= set(fate.contains)


def test_every_gold_substring_is_verbatim_in_an_article():
    articles = [metrics.fold(p.read_text(encoding="utf-8")) for p in sorted(SEED_DATA.iterdir())]
    missing = [(q.question, g) for q in questions.load_questions(SEED_QUESTIONS) for g in q.contains
               if not any(metrics.fold(g) in text for text in articles)]
    assert missing == []


def test_alternatives_are_counted_against_the_questions_whose_sources_agree():
    def outcome(differ: bool, alternatives: tuple[str, ...], answerable: bool = True):
        q = questions.Question("q", answerable, ("x",) if answerable else (), differ=differ)
        return questions.Outcome(q, False, "x", ["x"], 1.0, alternatives)

    summary = questions.alternatives_summary([outcome(True, ("a",)), outcome(True, ()), outcome(False, ("b", "c")),
                                              outcome(False, ()), outcome(False, ("d",), answerable=False)])
    assert summary == {"questions_with_alternatives": 3, "on_questions_whose_sources_agree": 2,
                       "precision": 0.3333, "found_where_sources_differ": 1, "sources_differ": 2}
    assert questions.alternatives_summary([outcome(False, ())])["precision"] is None


def test_the_seed_sets_disagreements_are_in_the_articles():
    """Each question marked `sources_differ` has gold text from two articles."""
    articles = [metrics.fold(p.read_text(encoding="utf-8")) for p in sorted(SEED_DATA.iterdir())]
    marked = [q for q in questions.load_questions(SEED_QUESTIONS) if q.differ]
    assert len(marked) == 2
    for q in marked:
        assert len({i for g in q.contains for i, a in enumerate(articles) if metrics.fold(g) in a}) >= 2


def test_run_questions_ranks_even_when_the_service_abstains(seed_service):
    answerer = questions.with_threshold(seed_service.answerer(), math.inf)  # abstains on everything
    q = questions.Question("How many kids were orphaned?", True, ("25 children lost both parents",))
    (outcome,) = questions.run_questions(answerer, [q], top_k=10)
    assert outcome.abstained and outcome.answer is None
    assert len(outcome.passages) > 0 and metrics.hit_rank(outcome.passages, q.contains) is not None
    assert outcome.ms > 0


def test_run_questions_marks_weak_replies(seed_service):
    answerer = seed_service.answerer()
    weak = answerer.with_settings(dataclasses.replace(answerer.cfg, weak_below=WEAK_EVERYWHERE))
    q = questions.Question("How many kids were orphaned?", True, ("25 children lost both parents",))
    (outcome,) = questions.run_questions(weak, [q], top_k=10)
    assert outcome.weak and not outcome.abstained and outcome.answer is None
    assert metrics.hit_rank(outcome.passages, q.contains) is not None


def test_weak_replies_are_counted_apart_from_abstentions_and_quoted_answers():
    def outcome(answerable: bool, abstained: bool = False, weak: bool = False, answer: str | None = None):
        q = questions.Question(f"q{answerable}{abstained}{weak}{answer}", answerable, ("x",) if answerable else ())
        return questions.Outcome(q, abstained, answer, ["x"], 1.0, weak=weak)

    summary = questions.summarize([outcome(True, answer="x"), outcome(True, weak=True), outcome(False, weak=True),
                                   outcome(False, abstained=True), outcome(False, answer="y")])
    assert (summary["weak_answerable"], summary["weak_unanswerable"]) == (1, 1)
    assert summary["false_abstentions"] == 0 and summary["abstention_unanswerable"] == 0.3333
    assert summary["answer_accuracy"] == 0.5  # a weak reply quotes no answer
    # Misses: the weak answerable question (no answer quoted) and the unanswerable one answered
    # "y"; the weak unanswerable one quoted nothing wrong.
    assert [(m["question"], m.get("weak")) for m in summary["misses"]] == [("qTrueFalseTrueNone", True),
                                                                           ("qFalseFalseFalsey", None)]
    table = tables.format_questions(summary)
    assert "weak_answerable           1" in table and "weak_unanswerable         1" in table


def test_sweep_runs_from_never_to_always_abstaining(seed_service):
    qs = [questions.Question("How many families were completely wiped out?", True, ("8 families",)),
          questions.Question("What is the capital of Australia?", False)]
    low, high = questions.sweep(seed_service.answerer(), qs, thresholds=(-1.0, 1.01))
    assert low == {"threshold": -1.0, "abstention_unanswerable": 0.0, "false_abstentions": 0, "correct_withheld": 0}
    assert high == {"threshold": 1.01, "abstention_unanswerable": 1.0, "false_abstentions": 1, "correct_withheld": 1}


def test_sweep_ignores_the_configured_weak_zone(seed_service):
    """A threshold of the sweep alone decides (as `min_score` or as `weak_below`): the served
    weak zone neither hides an answer from `correct_withheld` nor counts as an abstention."""
    answerer = seed_service.answerer()
    weak = answerer.with_settings(dataclasses.replace(answerer.cfg, weak_below=WEAK_EVERYWHERE))
    qs = [questions.Question("How many families were completely wiped out?", True, ("8 families",))]
    assert questions.sweep(weak, qs, thresholds=(-1.0, 1.01)) == questions.sweep(answerer, qs, thresholds=(-1.0, 1.01))


def _eval_args(cfg: Config, *args: str) -> list[str]:
    return ["eval", *args, "--data", str(cfg.data_dir), "--index", str(cfg.index_dir)]


@pytest.mark.e2e
def test_qa_eval_on_the_seed_set_meets_the_recall_gate(runner, seed_config):
    """The CI gate of issue 4: the whole seed set through the real model and index."""
    result = runner.invoke(cli, _eval_args(seed_config, str(SEED_QUESTIONS), "--json", "--min-recall5", "0.95"))
    summary = json.loads(result.stdout)
    assert summary["recall@5"] >= 0.95, summary["misses"]
    assert result.exit_code == 0, result.output
    assert summary["answerable"] >= 40 and summary["unanswerable"] >= 15


@pytest.mark.e2e
def test_qa_eval_text_report_and_failing_gate(runner, seed_config, tmp_path):
    path = _write(tmp_path,
                  json.dumps({"question": "How many kids were orphaned?", "answerable": True,
                              "contains": ["no article says this"]}),
                  json.dumps({"question": "How many families were completely wiped out?", "answerable": True,
                              "contains": ["8 families were completely wiped out"]}),
                  json.dumps({"question": "What is the capital of Australia?", "answerable": False}))
    result = runner.invoke(cli, _eval_args(seed_config, str(path), "--min-recall5", "0.9"))
    assert result.exit_code == 1
    assert "3 questions (2 answerable, 1 unanswerable)" in result.output
    assert "recall@5                  0.5000" in result.output
    assert "Error: recall@5 0.5000 is below --min-recall5 0.9" in result.output


@pytest.mark.parametrize("args, message", [
    ([], "give either QUESTIONS.jsonl or --multihop"),
    ([str(SEED_QUESTIONS), "--multihop"], "give either QUESTIONS.jsonl or --multihop"),
    ([str(SEED_QUESTIONS), "--even"], "need --multihop"),
    ([str(SEED_QUESTIONS), "--limit", "3"], "need --multihop"),
    ([str(SEED_QUESTIONS), "--keep-index", "kept"], "need --multihop"),
    (["--multihop", "--sweep"], "apply to a question file"),
    (["--multihop", "--min-recall5", "0.5"], "apply to a question file"),
    (["--multihop", "--half", "train"], "apply to a question file"),
    ([str(SEED_QUESTIONS), "--half", "test"], "Invalid value for '--half'"),
])
def test_qa_eval_usage_errors(runner, args, message):
    result = runner.invoke(cli, ["eval", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_qa_eval_bad_question_file_is_one_line_error(runner, tmp_path):
    result = runner.invoke(cli, ["eval", str(_write(tmp_path, "{oops"))])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {tmp_path / 'q.jsonl'}:1: malformed JSON "
                                                  "(Expecting property name enclosed in double quotes)"]


def test_qa_eval_half_the_file_does_not_mark_is_one_line_error(runner):
    result = runner.invoke(cli, ["eval", str(SEED_QUESTIONS), "--half", "train"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: no questions in the 'train' half "
                                                  "(mark them with \"half\": \"train\")"]


def test_qa_eval_without_an_index_says_to_build_one(runner, tmp_path):
    result = runner.invoke(cli, ["eval", str(SEED_QUESTIONS), "--data", str(SEED_DATA),
                                 "--index", str(tmp_path / "no-index")])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "qa index build" in result.output


def test_qa_eval_missing_multihop_folder(runner, tmp_path):
    result = runner.invoke(cli, ["eval", "--multihop", str(tmp_path / "nowhere"), "--limit", "1"])
    assert result.exit_code == 1
    assert "cannot read" in result.output and "MultiHopRAG.json" in result.output


# ---------------------------------------------------------------- MultiHop-RAG

needs_multihop = pytest.mark.skipif(not (MULTIHOP / multihop.MULTIHOP_CORPUS).exists(),
                                    reason="the shared MultiHop-RAG folder is absent")


@needs_multihop
def test_multihop_corpus_ingests_whole_through_the_json_path(tmp_path):
    shutil.copyfile(MULTIHOP / multihop.MULTIHOP_CORPUS, tmp_path / multihop.MULTIHOP_CORPUS)
    corpus = read_corpus(tmp_path, max_file_bytes=Config().ingest.max_file_bytes)
    assert corpus.skipped == []
    assert len(corpus.articles) == 609
    assert all(a.title and a.source and a.date for a in corpus.articles)
    raw = json.loads((MULTIHOP / multihop.MULTIHOP_CORPUS).read_text(encoding="utf-8"))
    assert [a.title for a in corpus.articles] == [r["title"].strip() for r in raw]
    assert corpus.articles[0].date == raw[0]["published_at"][:10]


@needs_multihop
@pytest.mark.e2e
def test_small_multihop_run_scores_and_reports_null_queries(encoder):
    """Six even-numbered queries (one of them a null query) over just the articles they cite."""
    report = multihop.run_multihop(Config(), MULTIHOP, encoder=encoder, subset="even", limit=6, gold_articles_only=True)
    assert (report["queries"], report["null_queries"]) == (5, 1)
    assert report["gold_articles_only"] and report["subset"] == "even"
    assert 0 < report["articles"] < 609 and report["chunks"] > report["articles"]
    assert 0 < report["Hits@10"] <= report["reachable"] <= 1
    assert report["MRR@10"] <= report["Hits@10"] and report["Hits@4"] <= report["Hits@10"]
    assert report["null_abstention"] in (0.0, 1.0) and 0 <= report["weak"] <= 1 and 0 <= report["null_weak"] <= 1
    assert sum(t["queries"] for t in report["by_type"].values()) == 5
    text = tables.format_multihop(report)
    assert "5 queries (even, limit 6)" in text and "(gold articles only)" in text and "weak (closest passages" in text


@needs_multihop
@pytest.mark.e2e
def test_multihop_kept_index_is_reused_until_the_chunking_changes(encoder, runner, tmp_path):
    """Query-time ablations share one build; a build-time change (the header) rebuilds."""
    kept = tmp_path / "kept"
    run = dict(encoder=encoder, subset="even", limit=4, gold_articles_only=True, keep_index=kept)
    first = multihop.run_multihop(Config(), MULTIHOP, **run)
    assert first["build_seconds"] is not None and (kept / "index" / "CURRENT").is_file()
    version = (kept / "index" / "CURRENT").read_text()
    again = multihop.run_multihop(Config(), MULTIHOP, **run)
    assert again["build_seconds"] is None and (kept / "index" / "CURRENT").read_text() == version
    assert {k: again[k] for k in ("MRR@10", "MAP@10", "Hits@4", "Hits@10", "chunks")} == \
        {k: first[k] for k in ("MRR@10", "MAP@10", "Hits@4", "Hits@10", "chunks")}
    defaults = tmp_path / "defaults.yaml"
    defaults.write_text("", encoding="utf-8")
    result = runner.invoke(cli, ["eval", "--multihop", str(MULTIHOP), "--even", "--limit", "4", "--config",
                                 str(defaults), "--gold-articles-only", "--keep-index", str(kept)])
    assert result.exit_code == 0, result.output
    assert "index reused" in result.output
    bare = Config()
    bare = bare.replace(chunking=dataclasses.replace(bare.chunking, header=False))
    rebuilt = multihop.run_multihop(bare, MULTIHOP, **run)
    assert rebuilt["build_seconds"] is not None and rebuilt["chunking"]["header"] is False
    assert (kept / "index" / "CURRENT").read_text() != version


def test_the_printed_table_says_how_often_alternatives_were_wrong():
    q = questions.Question("q", True, ("x",), differ=True)
    summary = questions.summarize([questions.Outcome(q, False, "x", ["x"], 1.0, ("y",))])
    assert "alternatives              on 1 question(s), 0 of them where the sources agree; found on 1 of 1 where they " \
           "differ" in tables.format_questions(summary)
