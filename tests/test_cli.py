"""The `qa` command line, through click's runner and as a real subprocess."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

from conftest import WEAK_EVERYWHERE, backend_args, served_config
from qa.cli import cli
from qa.config import Config
from qa.models import WEAK_NOTICE

QUESTION = "How many people died in the Khojaly massacre?"


def test_help_does_not_load_torch():
    code = ("import sys; from qa.cli import cli\n"
            "try:\n    cli(['--help'], prog_name='qa')\nexcept SystemExit as e:\n    assert e.code == 0\n"
            "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules, 'heavy import'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "index" in out.stdout and "serve" in out.stdout and "ask" in out.stdout


def test_build_info_ask(runner, tmp_path, backend_config):
    # A new index beside the seed's: its own folder, and in Milvus the default collection prefix.
    storage = backend_config.storage
    fresh = dataclasses.replace(storage, milvus=dataclasses.replace(storage.milvus, collection_prefix=Config().storage.milvus.collection_prefix))
    args = backend_args(backend_config.replace(index_dir=tmp_path / "idx", storage=fresh))
    r = runner.invoke(cli, ["index", "build", *args])
    assert r.exit_code == 0, r.output
    assert "5 articles" in r.output and "0 skipped files" in r.output
    r = runner.invoke(cli, ["index", "info", *args])
    assert r.exit_code == 0
    assert json.loads(r.stdout)["counts"]["articles"] == 5
    r = runner.invoke(cli, ["ask", QUESTION, *args, "--json", "--top-k", "3"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert len(body["passages"]) == 3 and any("613 people" in p["text"] for p in body["passages"])
    r = runner.invoke(cli, ["ask", QUESTION, *args])
    assert r.exit_code == 0 and "613 people" in r.output and "[1]" in r.output


def test_ask_unanswerable_says_so(runner, backend_config):
    r = runner.invoke(cli, ["ask", "What is a good recipe for sourdough bread?", *backend_args(backend_config)])
    assert r.exit_code == 0 and "do not answer" in r.output


def test_ask_weak_prints_the_notice_then_the_closest_passages_and_no_answer(runner, backend_config, tmp_path):
    config = served_config(backend_config, tmp_path / "weak.yaml", search={"weak_below": WEAK_EVERYWHERE})
    args = ["--data", str(backend_config.data_dir), "--index", str(backend_config.index_dir), "--config", str(config)]
    r = runner.invoke(cli, ["ask", QUESTION, *args, "--top-k", "3"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith(WEAK_NOTICE + "\n\n[1] ") and "[2]" in r.output
    r = runner.invoke(cli, ["ask", QUESTION, *args, "--json", "--cite", "apa"])
    body = json.loads(r.stdout)
    assert body["evidence"] == "weak" and body["abstained"] is False and body["answer"] is None and body["passages"]
    # No answer is quoted, but the passages are: their articles are the references.
    cited = list(dict.fromkeys(p["citation"]["doc_id"] for p in body["passages"]))
    assert [ref["doc_id"] for ref in body["references"]] == cited


def test_build_reports_skips_and_strict_fails(runner, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "good.txt").write_text("The harbour reopened on Monday after repairs.")
    (data / "bad.txt").write_bytes(b"\x00\x01binary")
    args = ["index", "build", "--data", str(data), "--index", str(tmp_path / "idx")]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "skipped bad.txt: binary" in r.output and "1 skipped files" in r.output
    r = runner.invoke(cli, args + ["--strict"])
    assert r.exit_code == 1 and "bad.txt" in r.output and "Traceback" not in r.output


def test_errors_are_one_line_and_nonzero(runner, tmp_path):
    cases = [
        (["index", "build", "--data", str(tmp_path / "missing"), "--index", str(tmp_path / "i")], "data folder not found"),
        (["ask", "hi", "--index", str(tmp_path / "none")], "qa index build"),
        (["index", "info", "--index", str(tmp_path / "none")], "no index"),
        (["ask", "hi", "--config", str(tmp_path / "nope.yaml")], "config file not found"),
        (["ask", "   ", "--index", str(tmp_path)], "empty"),
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text("search:\n  top_k: 99\n")
    cases.append((["ask", "hi", "--config", str(bad)], "top_k"))
    for args, message in cases:
        r = runner.invoke(cli, args)
        assert r.exit_code != 0, args
        assert message in r.output, (args, r.output)
        assert "Traceback" not in r.output
        assert len(r.output.strip().splitlines()) <= 3


def test_ask_prints_no_model_loading_bar_and_build_does(tmp_path):
    """The model's "Loading weights" bar belongs to `qa index build`; `qa ask` prints only its answer."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "one.txt").write_text("The harbour reopened on Monday after repairs. Ships returned at once.")
    index = ["--data", str(data), "--index", str(tmp_path / "idx")]

    def run(*args: str) -> subprocess.CompletedProcess:
        out = subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return out

    assert "Loading weights" in run("index", "build", *index).stderr
    asked = run("ask", "When did the harbour reopen?", *index)
    assert "Loading weights" not in asked.stderr + asked.stdout and "%|" not in asked.stderr
    assert "reopened on Monday" in asked.stdout


def test_ask_names_the_sources_that_differ_and_cites_them(runner, backend_config):
    fate = "How many people's fate remains unknown?"
    r = runner.invoke(cli, ["ask", fate, *backend_args(backend_config), "--cite", "bibtex", "--top-k", "3"])
    assert r.exit_code == 0, r.output
    answer, rest = r.output.split("Sources differ:", 1)
    assert ("fate of 150" in answer) != ("fate of 197" in answer) and ("fate of 150" in rest.split("[1]")[0]
                                                                      or "fate of 197" in rest.split("[1]")[0])
    references = r.output.split("References (bibtex):", 1)[1]
    assert "@misc{002_7488947501e1abfc," in references  # no outlet stated: a @misc entry
    assert "@article{001_29f152ea19aaed47," in references and 'journal = "AzerNEWS"' in references


def test_ask_json_carries_the_references(runner, backend_config):
    r = runner.invoke(cli, ["ask", QUESTION, *backend_args(backend_config), "--json", "--cite", "csl-json"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    cited = list(dict.fromkeys([body["answer"]["citation"]["doc_id"]] + [p["citation"]["doc_id"] for p in body["passages"]]))
    assert [ref["doc_id"] for ref in body["references"]] == cited
    assert all(json.loads(ref["text"])[0]["id"] == ref["doc_id"] and ref["style"] == "csl-json" for ref in body["references"])
    plain = json.loads(runner.invoke(cli, ["ask", QUESTION, *backend_args(backend_config), "--json"]).stdout)
    assert "references" not in plain and plain["answer"]["alternatives"] == []


def test_ask_refuses_an_unknown_citation_style(runner, backend_config):
    r = runner.invoke(cli, ["ask", QUESTION, *backend_args(backend_config), "--cite", "mla"])
    assert r.exit_code == 2 and "'mla' is not one of 'bibtex', 'apa', 'chicago', 'csl-json'" in r.output
