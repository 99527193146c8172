"""Reading the value a question asks for from a sentence, and finding the sentences of other
articles that give another value (pure functions: no model, no index)."""

from __future__ import annotations

import pytest

from qa.asking.differ import Said, asked, disagreements, read, same, values
from qa.text import terms

FATE_150 = "A total of 1,275 residents were taken hostage, and the fate of 150 people remains unknown to this day."
FATE_197 = ("613 people, including 63 children and 106 women, were brutally murdered, 1,275 people were taken "
            "prisoner and tortured, and the fate of 197 of them remains unknown to this day.")
DIED_613 = ("106 women, 63 children, and 70 elderly individuals were among the 613 people who perished in the "
            "genocide that occurred 32 years ago in February 1992.")
ORPHANS = "8 families were completely wiped out, 25 children lost both parents, and 130 children lost one parent."


def weights(question: str) -> dict[str, float]:
    return {t: 1.0 for t in terms(question)}


@pytest.mark.parametrize("question, kind", [
    ("How many people died?", "count"), ("How long ago did it happen?", "count"),
    ("When is State Sovereignty Day commemorated?", "date"), ("In what year was it built?", "date"),
    ("Who is the Commissioner for Human Rights?", "name"), ("Who spoke there?", "name"),
    ("Where was the conference held?", None), ("Which theater performed?", None),
])
def test_the_kind_of_value_asked_for(question, kind):
    assert asked(question, weights(question))[0] == kind


def test_the_framing_words_anchor_nothing():
    _, left = asked("And how many of them were children?", weights("And how many of them were children?"))
    assert set(left) == {"children"}


def test_counts_are_not_years_days_times_or_ordinals():
    text = ("On February 25, 1997, at 17:00, the 31st anniversary: 613 people, 1,275 residents, a 33-year gap, "
            "three houses and 2.5 million in 2008.")
    assert [v for _, _, v in values("count", text)] == [613.0, 1275.0, 33.0, 3.0, 2.5]


def test_dates_and_whether_they_agree():
    found = [v for _, _, v in values("date", "On the night of February 25-26, 1992 and on 24 February 2023, "
                                             "since 2008, every year on September 20.")]
    assert found == [(1992, 2, 25, 26), (2023, 2, 24, 24), (2008, 0, 0, 0), (0, 9, 20, 20)]
    assert same("date", (1992, 2, 0, 0), (1992, 2, 25, 26))  # "February 1992" is not another date
    assert same("date", (1992, 2, 26, 26), (1992, 2, 25, 26))
    assert not same("date", (1992, 2, 24, 24), (1992, 2, 25, 26)) and not same("date", (1993, 0, 0, 0), (1992, 2, 0, 0))


def test_the_value_is_the_one_the_questions_words_hold():
    question = "How many people's fate remains unknown?"
    assert read("count", FATE_197, weights(question)).value == 197.0  # not 613 or 1,275
    assert read("count", FATE_150, weights(question)).value == 150.0
    assert read("count", DIED_613, weights("How many people died in the Khojaly massacre?")).value == 613.0
    assert read("count", "The city was utterly demolished.", weights(question)) is None
    name = read("name", "Sabina Aliyeva, the Commissioner for Human Rights of Azerbaijan, embarked on a journey.",
                weights("Who is the Commissioner for Human Rights of Azerbaijan?"))
    assert name.value == frozenset({"sabina", "aliyeva"})


def said(doc: str, text: str, score: float = 1.0) -> Said:
    return Said(doc, text, score, (doc, text[:10]))


def test_another_articles_other_value_is_an_alternative():
    question = "How many people's fate remains unknown?"
    found = disagreements(question, weights(question), said("a", FATE_197), [said("a", FATE_197), said("b", FATE_150)])
    assert [s.text for s in found] == [FATE_150]


def test_sources_that_agree_give_no_alternative():
    question = "How many people died in the Khojaly massacre?"
    found = disagreements(question, weights(question), said("a", DIED_613),
                          [said("a", DIED_613), said("b", FATE_197), said("c", "In all, 613 people died there.")])
    assert found == []


def test_a_figure_about_something_else_is_no_disagreement():
    """Article b says 25 children lost both parents; article a says so too, beside its 63 children
    killed: b does not disagree about the children, it speaks of other children."""
    question = "And how many of them were children?"
    answer = said("a", DIED_613)
    assert disagreements(question, weights(question), answer, [answer, said("a", ORPHANS), said("b", ORPHANS)]) == []
    lone = disagreements(question, weights(question), answer, [answer, said("b", ORPHANS)])
    assert [s.text for s in lone] == [ORPHANS]  # without a's own sentence nothing tells them apart


def test_sentences_of_the_answers_own_article_or_far_weaker_are_no_alternative():
    question = "How many people's fate remains unknown?"
    answer = said("a", FATE_197, 1.0)
    assert disagreements(question, weights(question), answer, [answer, said("a", FATE_150)]) == []
    assert disagreements(question, weights(question), answer, [answer, said("b", FATE_150, 0.5)]) == []


def test_the_value_most_articles_state_comes_first():
    question = "How many people's fate remains unknown?"
    other = "The fate of 200 people remains unknown."
    found = disagreements(question, weights(question), said("a", FATE_197),
                          [said("b", other, 0.99), said("c", FATE_150, 0.98), said("d", FATE_150, 0.9)])
    assert [(s.doc_id, s.text) for s in found] == [("c", FATE_150), ("b", other)]


def test_a_question_asking_for_no_value_has_no_alternatives():
    question = "Where was the conference held?"
    assert disagreements(question, weights(question), said("a", FATE_197), [said("b", FATE_150)]) == []


def test_a_value_few_of_a_long_questions_words_stand_near_is_no_reading_to_compare():
    """Many-claim questions (MultiHop-RAG's) name a value only in passing: no alternatives."""
    question = ("How many people's fate remains unknown according to the ministry report presented at the "
                "international conference in the capital after the anniversary ceremony and the exhibition?")
    assert disagreements(question, weights(question), said("a", FATE_197), [said("b", FATE_150)]) == []
