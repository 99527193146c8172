"""Outlets named once: spellings that differ in case, spacing or punctuation are one outlet, shown
in the most frequent spelling; the alias table joins others; filters widen to every spelling."""

from __future__ import annotations

from qa.models import Filters
from qa.outlets import Outlets, fold


def test_spellings_differing_in_case_spacing_or_punctuation_are_one_outlet():
    assert fold("AzerNEWS") == fold("Azer News") == fold("azer-news.") == "azernews"
    outlets = Outlets.of(["Trend", "Azernews", "AzerNEWS", "Azer News"], [5, 3, 2, 1])
    assert outlets.names == ("Azernews", "Trend")  # 6 articles against 5; the most frequent spelling shown
    assert outlets.name("AZER NEWS") == outlets.name("AzerNEWS") == "Azernews"
    assert outlets.spellings("azernews") == ("Azernews", "AzerNEWS", "Azer News")
    assert outlets.name("Unknown Wire") == "Unknown Wire" and outlets.spellings("Unknown Wire") == ("Unknown Wire",)
    assert outlets.name(None) is None


def test_equal_counts_keep_the_indexs_order():
    outlets = Outlets.of(["AzerNEWS", "Azernews", "Trend"], [1, 1, 1])
    assert outlets.names == ("AzerNEWS", "Trend") and outlets.spellings("Trend") == ("Trend",)
    assert Outlets.of(["B", "A"]).names == ("B", "A")  # without counts the order stands for them


def test_the_alias_table_joins_other_names_under_the_name_it_gives():
    outlets = Outlets.of(["FOX News - Health", "TechCrunch", "FOX News - Lifestyle"], [10, 9, 8],
                         {"FOX News - Health": "FOX News", "fox news lifestyle": "FOX News"})
    assert outlets.names == ("FOX News", "TechCrunch")
    assert outlets.name("FOX News - Lifestyle") == outlets.name("fox news") == "FOX News"
    assert outlets.spellings("FOX News") == ("FOX News - Health", "FOX News - Lifestyle")
    assert {"FOX News", "FOX News - Health", "fox news lifestyle"} <= set(outlets.called)


def test_a_filter_widens_to_every_spelling_of_its_outlet():
    outlets = Outlets.of(["AzerNEWS", "Azernews", "Trend"], [1, 1, 1])
    wide = outlets.expand(Filters(sources=("azer news", "Trend"), date_from="2024-01-01"))
    assert wide == Filters(sources=("AzerNEWS", "Azernews", "Trend"), date_from="2024-01-01")
    assert outlets.expand(Filters(date_to="2024-01-01")) == Filters(date_to="2024-01-01")


def test_a_summary_without_counts_still_merges():
    """Milvus versions written before the counts were kept read back without them."""
    from qa.storage.base import CorpusSummary

    old = CorpusSummary(**{"articles": 3, "date_from": None, "date_to": None, "sources": ["AzerNEWS", "Azernews"]})
    assert old.source_counts == [] and Outlets.of(old.sources, old.source_counts).names == ("AzerNEWS",)
