"""The `qa` command line: build and inspect the index, ask, serve.

Heavy libraries (torch, the model, FAISS) are imported inside the commands, so `qa --help`
answers at once.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import click

from qa.config import Config, load_config
from qa.errors import IndexUnavailable, QAError
from qa.models import WEAK_NOTICE
from qa.validation import MAX_TOP_K, STYLES, validate_filters, validate_question


class _Group(click.Group):
    """Turns the project's errors into one clear line and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except QAError as exc:
            raise click.ClickException(exc.message) from None


def common_options(func):
    @click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                  help="Config file (default ./config.yaml).")
    @click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
                  help="Articles folder (overrides data_dir).")
    @click.option("--index", "index_dir", type=click.Path(file_okay=False, path_type=Path),
                  help="Index folder (overrides index_dir).")
    @click.option("--backend", type=click.Choice(["local", "milvus"]), default=None,
                  help="Storage backend (overrides storage.backend).")
    @click.option("--milvus-uri", default=None, metavar="URI",
                  help="Milvus server URL or Milvus Lite file (overrides storage.milvus.uri).")
    @functools.wraps(func)
    def wrapper(*args, config_path: Path | None, data_dir: Path | None, index_dir: Path | None,
                backend: str | None, milvus_uri: str | None, **kwargs):
        cfg = load_config(config_path, required=config_path is not None)
        if data_dir is not None:
            cfg = cfg.replace(data_dir=data_dir)
        if index_dir is not None:
            cfg = cfg.replace(index_dir=index_dir)
        storage = cfg.storage
        if milvus_uri is not None:
            storage = dataclasses.replace(storage, milvus=dataclasses.replace(storage.milvus, uri=milvus_uri))
        if backend is not None:
            storage = dataclasses.replace(storage, backend=backend)
        return func(cfg.replace(storage=storage), *args, **kwargs)

    return wrapper


@click.group(cls=_Group)
@click.version_option(package_name="newsqa")
def cli() -> None:
    """Ask questions of news articles; answers are cited passages, quoted verbatim."""


@cli.group(cls=_Group)
def index() -> None:
    """Build and inspect the search index."""


def _run_build(cfg: Config, strict: bool, reuse: bool = False, ray: bool = False) -> None:
    from qa.indexing.build import build_index

    report = build_index(cfg, strict=strict, progress=True, reuse=reuse, ray=ray)
    for skip in report.skipped:
        click.echo(f"warning: skipped {skip.path}: {skip.reason}", err=True)
    place = cfg.index_dir if cfg.storage.backend == "local" else f"Milvus ({cfg.storage.milvus.uri})"
    click.echo(f"built index {report.version} in {place}: {report.articles} articles, "
               f"{report.chunks} chunks ({report.encoded} encoded), {len(report.skipped)} skipped files, "
               f"{report.seconds:.1f} s")


def _build_apart(cfg: Config) -> None:
    """Build in a fresh process. The server forks its workers from this one, and OpenMP (torch
    encodes with it) is not fork-safe: a worker forked after it ran hung in LightGBM's model load."""
    import multiprocessing

    proc = multiprocessing.get_context("spawn").Process(target=_build_then_exit, args=(cfg,))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise click.ClickException("the index could not be built (the reason is above)")


def _build_then_exit(cfg: Config) -> None:
    try:
        _run_build(cfg, strict=False)
    except QAError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        raise SystemExit(1) from None


def ray_options(func):
    """--ray and --ray-address, for the commands that encode."""
    @click.option("--ray", "ray", is_flag=True, help="Encode on a Ray cluster (build.ray_address; none: a local one).")
    @click.option("--ray-address", metavar="ADDRESS", help="Join the Ray cluster at ADDRESS (implies --ray).")
    @functools.wraps(func)
    def wrapper(cfg: Config, *args, ray: bool, ray_address: str | None, **kwargs):
        if ray_address is not None:
            cfg = cfg.replace(build=dataclasses.replace(cfg.build, ray_address=ray_address))
        return func(cfg, *args, ray=ray or ray_address is not None, **kwargs)

    return wrapper


@index.command("build")
@common_options
@ray_options
@click.option("--strict", is_flag=True, help="Fail if any file has to be skipped.")
def index_build(cfg: Config, strict: bool, ray: bool) -> None:
    """Read the articles and write a new index version."""
    _run_build(cfg, strict, ray=ray)


@index.command("update")
@common_options
@ray_options
@click.option("--strict", is_flag=True, help="Fail if any file has to be skipped.")
def index_update(cfg: Config, strict: bool, ray: bool) -> None:
    """Write a new version re-encoding only new or changed articles (deleted ones drop out)."""
    _run_build(cfg, strict, reuse=True, ray=ray)


@index.command("info")
@common_options
def index_info(cfg: Config) -> None:
    """Print what the current index's manifest says."""
    from qa.storage import open_backend

    backend = open_backend(cfg)
    click.echo(json.dumps(backend.manifest(backend.current()), indent=2, sort_keys=True))


def _print_result(result: dict) -> None:
    if result["abstained"]:
        click.echo("The articles do not answer this question.")
        return
    if result["evidence"] == "weak":
        click.secho(WEAK_NOTICE + "\n", bold=True)
    else:
        _print_answer(result["answer"])
    for p in result["passages"]:
        c = p["citation"]
        click.secho(f"[{p['rank']}] {_cite_line(c)}  (score {p['score']:.3f})", fg="cyan")
        click.echo(p["text"].strip() + "\n")


def _print_answer(answer: dict) -> None:
    click.secho(f"“{answer['text']}”", bold=True)
    click.echo(f"   — {_cite_line(answer['citation'])}\n")
    if answer["alternatives"]:
        click.secho("Sources differ:", bold=True)
        for alt in answer["alternatives"]:
            click.echo(f"“{alt['text']}”\n   — {_cite_line(alt['citation'])}\n")


def _cite_line(c: dict) -> str:
    parts = [c.get("title") or c["doc_id"], c.get("source"), c.get("date")]
    where = f"{c['path']} [{c['start']}:{c['end']}]"
    return ", ".join(p for p in parts if p) + f" — {where}"


def _references(answerer, result: dict, style: str) -> list[dict]:
    """Each article the reply cites, in `style`, in the order the reply first cites it."""
    from qa.cite import reference

    answer = result["answer"]
    quotes = [*([answer, *answer["alternatives"]] if answer else []), *result["passages"]]
    ids = list(dict.fromkeys(q["citation"]["doc_id"] for q in quotes))
    articles = answerer.articles(ids)
    return [{"doc_id": d, "style": style, "text": reference(articles[d], style)} for d in ids]


def _show(answerer, result: dict, as_json: bool, cite: str | None) -> None:
    """A reply as the API's JSON or as text, with the cited articles' references when asked."""
    references = _references(answerer, result, cite) if cite else None
    if as_json:
        click.echo(json.dumps({**result, "references": references} if cite else result, ensure_ascii=False, indent=2))
        return
    _print_result(result)
    if references:
        click.secho(f"References ({cite}):", bold=True)
        for ref in references:
            click.echo(ref["text"].rstrip("\n") + ("\n" if cite in ("bibtex", "csl-json") else ""))


@cli.command()
@common_options
@click.argument("question", required=False)
@click.option("--top-k", type=click.IntRange(1, MAX_TOP_K), default=None, help=f"Passages to return (1-{MAX_TOP_K}).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@click.option("--from", "date_from", metavar="YYYY-MM-DD", help="Only articles dated on or after this day.")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="Only articles dated on or before this day.")
@click.option("--source", "sources", multiple=True, help="Only articles from this outlet (repeatable).")
@click.option("--cite", type=click.Choice(STYLES), default=None,
              help="Also print each cited article's reference in this style (with --json: \"references\").")
def ask(cfg: Config, question: str | None, top_k: int | None, as_json: bool, date_from: str | None,
        date_to: str | None, sources: tuple[str, ...], cite: str | None) -> None:
    """Answer QUESTION with cited passages from the articles.

    Without QUESTION, opens an interactive session: follow-up questions ("And how many of
    them were children?") are searched with the conversation's earlier questions.
    """
    from qa.asking.service import Service

    filters = validate_filters({"date_from": date_from, "date_to": date_to, "source": list(sources) or None})
    if question is not None:
        question = validate_question(question)
    answerer = Service(cfg).answerer()

    def show(q: str, history: tuple[str, ...]) -> None:
        _show(answerer, answerer.ask(q, top_k, history=history, filters=filters).to_dict(), as_json, cite)

    if question is not None:
        show(question, ())
        return
    history: list[str] = []
    click.echo("Ask about the articles; an empty line or Ctrl-D ends the session.", err=True)
    while True:
        try:
            line = click.prompt("?", default="", show_default=False, prompt_suffix=" ", err=True)
        except (EOFError, click.Abort):
            break
        if not line.strip():
            break
        try:
            q = validate_question(line)
        except QAError as exc:
            click.echo(f"error: {exc.message}", err=True)
            continue
        show(q, tuple(history))
        history.append(q)


@cli.command()
@common_options
@click.option("--host", default=None, help="Address to listen on (default from config: 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default from config: 8000).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Worker processes.")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="Threads per worker.")
def serve(cfg: Config, host: str | None, port: int | None, workers: int | None, threads: int | None) -> None:
    """Serve the web page and the JSON API (gunicorn); builds the index first if there is none."""
    from qa.storage import open_backend

    try:
        missing = not open_backend(cfg).exists()
    except IndexUnavailable as exc:  # Milvus not reachable yet: answer 503 until it is
        click.echo(f"warning: {exc.message}; serving anyway", err=True)
        missing = False
    if missing:
        click.echo(f"no index in {cfg.index_dir}; building it from {cfg.data_dir} first", err=True)
        _build_apart(cfg)
    from qa.http.serve import run

    server = cfg.server
    run(cfg, host=host or server.host, port=server.port if port is None else port,
        workers=workers or server.workers, threads=threads or server.threads)


@cli.command("eval")
@common_options
@click.argument("questions", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--top-k", type=click.IntRange(1, MAX_TOP_K), default=10, show_default=True, help="Passages asked for.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--sweep", is_flag=True, help="Also sweep the abstention threshold over the questions.")
@click.option("--min-recall5", type=click.FloatRange(0, 1), default=0.0,
              help="Exit non-zero when recall@5 is below this (a CI gate).")
@click.option("--half", type=click.Choice(["train", "report"]), default=None,
              help="Only the questions of this half of the question file (its \"half\" field).")
@click.option("--multihop", is_flag=False, flag_value="", default=None, metavar="[DIR]",
              help="Run MultiHop-RAG from DIR (default: eval.multihop_dir) instead of a question file.")
@click.option("--even", "subset", flag_value="even", help="MultiHop-RAG: only even-numbered queries.")
@click.option("--odd", "subset", flag_value="odd", help="MultiHop-RAG: only odd-numbered queries.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="MultiHop-RAG: only the first N queries.")
@click.option("--gold-articles-only", is_flag=True,
              help="MultiHop-RAG: index only the articles the queries cite (quick, but easier).")
@click.option("--chunk-tokens", type=click.IntRange(16, 512), default=None,
              help="MultiHop-RAG: chunk budget for its index (overrides chunking.max_tokens).")
@click.option("--keep-index", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="MultiHop-RAG: keep its index in DIR and reuse it while corpus, model and chunking match.")
def eval_(cfg: Config, questions: Path | None, top_k: int, as_json: bool, sweep: bool, min_recall5: float,
          half: str | None, multihop: str | None, subset: str | None, limit: int | None, gold_articles_only: bool,
          chunk_tokens: int | None, keep_index: Path | None) -> None:
    """Measure retrieval, answers and abstention on QUESTIONS.jsonl, or on MultiHop-RAG."""
    from qa.evaluation import multihop as mh, questions as qs, report as tables

    if (questions is None) == (multihop is None):
        raise click.UsageError("give either QUESTIONS.jsonl or --multihop [DIR]")
    if multihop is None and (subset or limit or gold_articles_only or chunk_tokens or keep_index):
        raise click.UsageError("--even, --odd, --limit, --gold-articles-only, --chunk-tokens and --keep-index "
                               "need --multihop")
    if multihop is not None:
        if sweep or min_recall5 or half:
            raise click.UsageError("--sweep, --min-recall5 and --half apply to a question file, not --multihop")
        if chunk_tokens:
            cfg = cfg.replace(chunking=dataclasses.replace(cfg.chunking, max_tokens=chunk_tokens))
        report = mh.run_multihop(cfg, Path(multihop) if multihop else cfg.eval.multihop_dir,
                                       subset=subset or "all", limit=limit, top_k=top_k,
                                       gold_articles_only=gold_articles_only, progress=not as_json,
                                       keep_index=keep_index)
        click.echo(json.dumps(report, indent=2) if as_json else tables.format_multihop(report))
        return
    from qa.asking.service import Service

    items = qs.select_half(qs.load_questions(questions), half)
    answerer = Service(cfg).answerer()
    summary = qs.summarize(qs.run_questions(answerer, items, top_k))
    rows = qs.sweep(answerer, items, top_k) if sweep else None
    if as_json:
        click.echo(json.dumps({**summary, "sweep": rows} if sweep else summary, ensure_ascii=False, indent=2))
    else:
        click.echo(tables.format_questions(summary, rows))
    if summary["recall@5"] < min_recall5:
        raise click.ClickException(f"recall@5 {summary['recall@5']:.4f} is below --min-recall5 {min_recall5}")


@cli.command("train-ranker")
@common_options
@click.option("--multihop", "multihop", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="MultiHop-RAG folder (default: eval.multihop_dir); its even queries are trained on.")
@click.option("--questions", "question_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A question file about the MultiHop-RAG articles; its \"train\" half is trained on (repeatable).")
@click.option("--keep-index", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the MultiHop-RAG index in DIR and reuse it (as `qa eval --keep-index`).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the model (default: search.ranker_model, else the package's own).")
def train_ranker(cfg: Config, multihop: Path | None, question_files: tuple[Path, ...], keep_index: Path | None,
                 out: Path | None) -> None:
    """Train the learned ranker (search.ranker: learned) on the training questions only."""
    from qa.asking.learned import PACKAGED
    from qa.evaluation.train import train_ranker as run

    folder = out or (Path(cfg.search.ranker_model) if cfg.search.ranker_model else PACKAGED)
    about = run(cfg, multihop or cfg.eval.multihop_dir, question_files, folder, keep_index=keep_index)
    click.echo(f"trained on {sum(about['questions'].values())} questions ({about['questions']}), "
               f"{about['rounds']} rounds; held-back NDCG {about['held_back_ndcg']}; written to {folder}")


def main() -> None:
    cli(prog_name="qa")
