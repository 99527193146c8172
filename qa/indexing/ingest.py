"""Read articles from a data folder: plain text, Markdown, HTML, JSON and JSON Lines.

A file that cannot be read is skipped with a reason and the rest is still indexed, so one
bad file never costs the whole corpus.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from qa.errors import IngestError
from qa.models import Article, Skipped
from qa.text import first_sentence

SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}

# Seed files start with " date YYYY-MM-DD " on the same line as the text.
_DATE_LINE = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})\s+")
_FRONT_MATTER = re.compile(r"\A---\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
# "By Mazahir Afandiyev I AzerNEWS", "By Jane Doe | Reuters"
_BYLINE = re.compile(r"^[ \t]*By\s+[^\n]{2,80}?\s[I|]\s+([A-Z][\w.&-]+)[ \t]*$", re.M)
# "..., Trend reports via the ministry", "..., Azernews reports."
_REPORTS = re.compile(r"\b([A-Z][A-Za-z]+(?:\.[a-z]{2,3})?) reports\b")
_LEADING_DATELINE = re.compile(r"^\s*\d{1,2} [A-Z][a-z]+ \d{4} \d{1,2}:\d{2}(?: \(UTC[^)]*\))?\s*$")


@dataclass
class Corpus:
    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _norm_date(value: Any) -> str | None:
    """ISO date (YYYY-MM-DD) from a date or an ISO datetime string; None if unreadable."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = str(value).strip()
        return text or None
    return None


def guess_source(body: str) -> str | None:
    """The outlet where the text names itself (a byline or 'X reports'), else None."""
    head = body[:2000]
    match = _BYLINE.search(head) or _REPORTS.search(head)
    return match.group(1) if match else None


def guess_title(body: str) -> str | None:
    """The first real sentence of the body, skipping datelines and bylines."""
    for para in re.split(r"\n\s*\n|\n", body):
        line = para.strip()
        if not line or _LEADING_DATELINE.match(line) or _BYLINE.match(line):
            continue
        # "BAKU, Azerbaijan, February 24. A commemorative event ..." -> drop the place/date.
        line = re.sub(r"^[A-Z]{3,}(?:, [A-Z][a-z]+)*, [A-Z][a-z]+ \d{1,2}\.\s+", "", line)
        title = first_sentence(line)
        if title:
            return title
    return None


def _decode(raw: bytes) -> str:
    if b"\x00" in raw:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise ValueError("empty file")
    return text


def _from_text(doc_id: str, rel: str, text: str, meta: dict[str, Any], body_start: int) -> Article:
    body = text[body_start:]
    if not body.strip():
        raise ValueError("no text after the header")
    return Article(
        doc_id=doc_id,
        path=rel,
        text=text,
        body_start=body_start,
        title=_opt_str(meta.get("title")) or guess_title(body),
        date=_norm_date(meta.get("date")),
        source=_opt_str(meta.get("source")) or guess_source(body),
        url=_opt_str(meta.get("url")),
    )


def _read_txt(doc_id: str, rel: str, text: str) -> Article:
    match = _DATE_LINE.match(text)
    meta = {"date": match.group(1)} if match else {}
    return _from_text(doc_id, rel, text, meta, match.end() if match else 0)


def _read_md(doc_id: str, rel: str, text: str) -> Article:
    match = _FRONT_MATTER.match(text)
    meta: dict[str, Any] = {}
    if match:
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            raise ValueError(f"invalid YAML front matter: {str(exc).splitlines()[0]}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError("front matter is not a mapping")
        meta = loaded or {}
    body_start = match.end() if match else 0
    if not meta.get("title"):
        heading = re.search(r"^#\s+(.+?)\s*#*\s*$", text[body_start:], re.M)
        if heading:
            meta["title"] = heading.group(1)
    return _from_text(doc_id, rel, text, meta, body_start)


def _read_html(doc_id: str, rel: str, text: str) -> Article:
    import trafilatura

    doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False, favor_recall=True)
    body = (doc.text if doc is not None else None) or ""
    if not body.strip():
        raise ValueError("no article text found in the HTML")
    meta = {
        "title": doc.title,
        "date": doc.date,
        "source": doc.sitename,
        "url": doc.url,
    }
    return _from_text(doc_id, rel, body, meta, 0)


def _article_from_record(record: Any, doc_id: str, rel: str) -> Article:
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    text = record.get("text", record.get("body"))
    if not isinstance(text, str) or not text.strip():
        raise ValueError("no 'text' or 'body' string")
    meta = {
        "title": record.get("title"),
        "date": record.get("date", record.get("published_at")),
        "source": record.get("source"),
        "url": record.get("url"),
    }
    rid = _opt_str(record.get("id"))
    return _from_text(rid or doc_id, rel, text, meta, 0)


def _records(stem: str, rel: str, text: str, suffix: str) -> Iterator[tuple[str, Any] | Skipped]:
    """Yield (doc_id, record) pairs, or a Skipped for a line that is not JSON."""
    if suffix == ".jsonl":
        for no, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield f"{stem}-{no}", json.loads(line)
            except json.JSONDecodeError as exc:
                yield Skipped(f"{rel}:{no}", f"malformed JSON line ({exc.msg})")
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, list):
        for no, record in enumerate(data, 1):
            yield f"{stem}-{no}", record
    else:
        yield stem, data


def _iter_files(data_dir: Path) -> Iterator[Path]:
    for path in sorted(data_dir.rglob("*")):
        rel_parts = path.relative_to(data_dir).parts
        if any(part.startswith(".") for part in rel_parts):
            continue
        if path.is_symlink() or path.is_file():
            yield path


def read_corpus(data_dir: Path, *, max_file_bytes: int) -> Corpus:
    """Read every supported file below `data_dir`; never raises for a single bad file."""
    if not data_dir.is_dir():
        raise IngestError(f"data folder not found: {data_dir}")
    root = data_dir.resolve()
    corpus = Corpus()
    seen: set[str] = set()

    def add(article: Article) -> None:
        if article.doc_id in seen:
            corpus.skipped.append(Skipped(article.path, f"duplicate article id '{article.doc_id}'"))
            return
        seen.add(article.doc_id)
        corpus.articles.append(article)

    for path in _iter_files(data_dir):
        rel = path.relative_to(data_dir).as_posix()
        suffix = path.suffix.lower()
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            corpus.skipped.append(Skipped(rel, "symbolic link leading outside the data folder (not followed)"))
            continue
        if suffix not in SUPPORTED:
            corpus.skipped.append(Skipped(rel, f"unsupported file type '{suffix or path.name}'"))
            continue
        try:
            size = path.stat().st_size
            if size > max_file_bytes:
                raise ValueError(f"file too large ({size} bytes; limit {max_file_bytes})")
            text = _decode(path.read_bytes())
            stem = path.relative_to(data_dir).with_suffix("").as_posix()
            if suffix == ".txt":
                add(_read_txt(stem, rel, text))
            elif suffix in (".md", ".markdown"):
                add(_read_md(stem, rel, text))
            elif suffix in (".html", ".htm"):
                add(_read_html(stem, rel, text))
            else:
                for item in _records(stem, rel, text, suffix):
                    if isinstance(item, Skipped):
                        corpus.skipped.append(item)
                        continue
                    doc_id, record = item
                    try:
                        add(_article_from_record(record, doc_id, rel))
                    except ValueError as exc:
                        where = doc_id[len(stem) + 1:] if doc_id != stem else ""
                        corpus.skipped.append(Skipped(f"{rel}{'#' + where if where else ''}", str(exc)))
        except (OSError, ValueError) as exc:
            corpus.skipped.append(Skipped(rel, str(exc)))
    return corpus
