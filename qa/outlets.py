"""Outlets named once: spellings of a name that differ only in case, spacing or punctuation
("AzerNEWS", "Azernews", "Azer News") are one outlet, shown in its most frequent spelling, and
the alias table `search.outlet_aliases` joins names that differ more ("FOX News - Health" and
"FOX News"). Filters, boosts, citations and the page's outlet list all read names through it,
so a reader never sees one outlet twice and a filter on it finds every spelling.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass
from typing import Mapping, Sequence

from qa.models import Filters


def fold(name: str) -> str:
    """What the spellings of one outlet share: its letters and digits, case folded."""
    key = "".join(ch for ch in unicodedata.normalize("NFKC", name).casefold() if ch.isalnum())
    return key or name.strip().casefold()


@dataclass(frozen=True)
class Outlets:
    """The index's outlets, merged: `names` most articles first, one per outlet."""

    names: tuple[str, ...]
    shown: Mapping[str, str]  # folded spelling or alias -> the name shown
    spelled: Mapping[str, tuple[str, ...]]  # the name shown -> its spellings in the index
    called: tuple[str, ...] = ()  # every name a question may use: spellings, aliases, names shown

    @classmethod
    def of(cls, sources: Sequence[str], counts: Sequence[int] = (),
           aliases: Mapping[str, str] | None = None) -> "Outlets":
        """From the index's spellings, most frequent first (`counts` aligned with them; without
        counts that order stands for them), and the alias table {spelling: name shown}."""
        target = {fold(k): v for k, v in (aliases or {}).items()}
        configured = {fold(v): v for v in target.values()}  # a group an alias made is shown by its name
        groups: dict[str, list[tuple[int, str]]] = {}
        for i, source in enumerate(sources):
            count = counts[i] if i < len(counts) else len(sources) - i
            groups.setdefault(fold(target.get(fold(source), source)), []).append((count, source))
        named = {key: configured.get(key) or max(members, key=lambda m: m[0])[1]  # first of equals
                 for key, members in groups.items()}
        order = sorted(groups, key=lambda key: -sum(c for c, _ in groups[key]))  # stable: ties keep their order
        shown = {fold(v): configured.get(fold(v), v) for v in target.values()}
        shown.update({a: configured.get(fold(v), v) for a, v in target.items()})
        shown.update({fold(s): named[key] for key, members in groups.items() for _, s in members})
        spelled = {named[key]: tuple(s for _, s in groups[key]) for key in groups}
        called = [*named.values(), *sources, *(aliases or {}), *target.values()]
        return cls(tuple(named[key] for key in order), shown, spelled, tuple(dict.fromkeys(called)))

    def name(self, source: str | None) -> str | None:
        """The name shown for a spelling (one the index lacks is shown as given)."""
        if source is None:
            return None
        return self.shown.get(fold(source), source)

    def spellings(self, source: str) -> tuple[str, ...]:
        """Every spelling in the index of the outlet `source` names (itself if the index has none)."""
        return self.spelled.get(self.name(source), (source,))

    def expand(self, filters: Filters) -> Filters:
        """`filters` with each outlet widened to all of its spellings (the stores match exact names)."""
        if not filters.sources:
            return filters
        wide = dict.fromkeys(s for source in filters.sources for s in self.spellings(source))
        return dataclasses.replace(filters, sources=tuple(wide))

