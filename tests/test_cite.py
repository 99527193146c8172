"""References to take away, from one CSL-JSON item: BibTeX (pybtex), APA and Chicago (citeproc-py)."""

from __future__ import annotations

import json

import pytest

from qa.cite import csl_item, reference
from qa.errors import BadRequest
from qa.models import Article
from qa.validation import STYLES, validate_style

ARTICLE = Article("Ünï festivals/harbour", "Ünï festivals/harbour.md", "text", title="Harbour & {tall} ships at 50%",
                  date="2024-05-01", source="Test Wire", url="https://example.org/a_b?c=1&d=%20")
BARE = Article("001.txt", "001.txt", "text", url="javascript:alert(1)")


def test_the_csl_json_item_every_style_is_made_from():
    assert json.loads(reference(ARTICLE, "csl-json")) == [csl_item(ARTICLE)] == [{
        "id": "Ünï festivals/harbour", "type": "article-newspaper", "title": "Harbour & {tall} ships at 50%",
        "container-title": "Test Wire", "issued": {"date-parts": [[2024, 5, 1]]}, "URL": "https://example.org/a_b?c=1&d=%20"}]
    # No title: the file stands for it; no outlet, date or web address: left out (never a javascript: URL).
    assert csl_item(BARE) == {"id": "001.txt", "type": "article-newspaper", "title": "001.txt"}


def test_bibtex():
    text = reference(ARTICLE, "bibtex")
    assert text.startswith("@article{Uni-festivals-harbour,\n")
    assert 'title = "Harbour \\& {tall} ships at 50\\%"' in text  # LaTeX's special characters escaped
    assert 'journal = "Test Wire"' in text and 'year = "2024"' in text and 'date = "2024-05-01"' in text
    assert 'url = "https://example.org/a_b?c=1&d=%20"' in text  # a URL is printed as it is
    assert reference(BARE, "bibtex") == '@misc{001-txt,\n    title = "001.txt"\n}\n'
    unbalanced = Article("x", "x.txt", "t", title="A } odd { title }")
    assert 'title = "A  odd  title "' in reference(unbalanced, "bibtex")


def test_apa_puts_the_title_of_a_work_without_author_in_its_place_once():
    assert reference(ARTICLE, "apa") == ("Harbour & {tall} ships at 50%. (2024, May 1). Test Wire. "
                                         "https://example.org/a_b?c=1&d=%20\n")
    assert reference(BARE, "apa") == "001.txt. (n.d.).\n"


def test_chicago():
    assert reference(ARTICLE, "chicago") == ("Test Wire. “Harbour & {tall} Ships at 50%”. Test Wire, May 1, 2024. "
                                             "https://example.org/a_b?c=1&d=%20.\n")
    assert "Edition" not in reference(ARTICLE, "chicago")


@pytest.mark.parametrize("style", [None, "", "mla", "APA", 3])
def test_an_unknown_style_is_a_bad_request(style):
    with pytest.raises(BadRequest, match="'style' must be one of bibtex, apa, chicago, csl-json"):
        validate_style(style)
    assert [validate_style(s) for s in STYLES] == list(STYLES)
