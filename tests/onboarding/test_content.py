"""Unit tests for onboarding.content, the demo regulations and test questions (no database)."""

import re
from collections import Counter
from collections.abc import Iterator

import pytest

from deals.stages import ORDER
from onboarding.content import QUESTIONS, SECTIONS

# Russian phone numbers as people write them: 8 912 345-67-89, +7 (932) 252-21-52, 89322522152…
PHONE = re.compile(r"(?:\+\s*7|\b8)(?:[\s()\-]*\d){10}(?!\d)")
LONG_DIGIT_RUN = re.compile(r"\d{10,}")


def _all_texts() -> Iterator[str]:
    for section in SECTIONS:
        yield section["slug"]
        yield section["title"]
        yield section["body"]
    for question in QUESTIONS:
        yield question["text"]
        yield question["explanation"]
        for text, _ in question["choices"]:
            yield text


def test_every_stage_has_exactly_one_section() -> None:
    stages = Counter(section["stage"] for section in SECTIONS if section["stage"] is not None)
    assert set(stages) == set(ORDER)
    assert all(count == 1 for count in stages.values())


def test_stage_sections_use_the_regulation_slug_and_follow_the_pipeline_order() -> None:
    stage_sections = [section for section in SECTIONS if section["stage"] is not None]
    assert [section["stage"] for section in stage_sections] == list(ORDER)
    for section in stage_sections:
        assert section["slug"] == f"stage-{section['stage']}"


def test_the_general_sections_are_present() -> None:
    slugs = [section["slug"] for section in SECTIONS]
    for slug in ("about", "position", "pay", "plan-kpi", "rules"):
        assert slug in slugs


def test_slugs_are_unique() -> None:
    slugs = [section["slug"] for section in SECTIONS]
    assert len(slugs) == len(set(slugs))


def test_sections_have_a_title_and_a_body() -> None:
    for section in SECTIONS:
        assert section["title"].strip()
        assert len(section["body"].strip()) > 100, section["slug"]


@pytest.mark.parametrize(
    "number", ["89322522152", "8 912 345-67-89", "+7 (932) 252-21-52", "+79322512152", "8(3462)55-10-01"]
)
def test_the_phone_pattern_catches_phone_numbers(number: str) -> None:
    assert PHONE.search(number) or LONG_DIGIT_RUN.search(number)


@pytest.mark.parametrize("text", ["до 20 000 ₽", "основана в 2018 году", "больше 150 тонн"])
def test_the_phone_pattern_leaves_ordinary_numbers_alone(text: str) -> None:
    assert not PHONE.search(text)
    assert not LONG_DIGIT_RUN.search(text)


def test_no_phone_numbers_anywhere() -> None:
    for text in _all_texts():
        assert not PHONE.search(text), text
        assert not LONG_DIGIT_RUN.search(text), text


def test_the_production_contact_is_a_setting() -> None:
    samples = next(section for section in SECTIONS if section["slug"] == "stage-samples")
    assert "контакт производства указан в настройках портала" in " ".join(samples["body"].split())


def test_no_template_leftovers() -> None:
    for text in _all_texts():
        lowered = text.lower()
        assert "клиник" not in lowered, text
        assert "интернет-магазин" not in lowered, text
        assert "ветеринар" not in lowered, text


def test_the_pay_section_hard_codes_no_rate_or_amount() -> None:
    pay = next(section for section in SECTIONS if section["slug"] == "pay")
    body = pay["body"].replace("\u00a0", " ")
    for figure in ("5 %", "5%", "2,5", "2.5", "10 000", "10000", "10 %", "10%", "×2", "x2"):
        assert figure not in body, figure


def test_stage_pages_do_not_quote_pay_rates() -> None:
    for section in SECTIONS:
        if section["stage"] is not None:
            assert not re.search(r"\d\s*%", section["body"]), section["slug"]


def test_the_bank_is_larger_than_an_attempt() -> None:
    from atlanset_portal.settings import base

    assert len(QUESTIONS) >= base.ONBOARDING_QUESTION_BANK_MIN >= 30
    assert len(QUESTIONS) >= 2 * base.ONBOARDING_TEST_QUESTIONS >= 24


def test_every_question_names_the_section_that_answers_it() -> None:
    slugs = {section["slug"] for section in SECTIONS}
    assert [question["text"] for question in QUESTIONS if question["section"] not in slugs] == []


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda question: question["text"][:40])
def test_question_is_well_formed(question: dict) -> None:
    correct = [text for text, is_correct in question["choices"] if is_correct]
    assert question["kind"] in {"single", "multiple"}
    assert 3 <= len(question["choices"]) <= 5
    if question["kind"] == "single":
        assert len(correct) == 1
    else:
        assert len(correct) >= 2
    assert len(correct) < len(question["choices"]), "at least one wrong choice"
    assert question["text"].strip()
    assert question["explanation"].strip()
    texts = [text for text, _ in question["choices"]]
    assert len(texts) == len(set(texts))


def test_question_texts_are_unique() -> None:
    texts = [question["text"] for question in QUESTIONS]
    assert len(texts) == len(set(texts))
