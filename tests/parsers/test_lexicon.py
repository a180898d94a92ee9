"""The lexicon data files: loadable, consistent, covering the experiment's languages."""

from __future__ import annotations

import pytest

from parsers import lexicon
from credsignal.reference.textnorm import fold
from parsers.lexicon import looks_like_grade
from parsers.linkedin.fields import strip_leading_label

REQUIRED_LANGUAGES = {"en", "pt", "es", "fr", "ar"}


@pytest.mark.parametrize("file_name", lexicon.LEXICON_FILES)
def test_every_lexicon_file_loads(file_name):
    assert lexicon.load_table(file_name)


def test_months_cover_the_required_languages_without_contradictions():
    months = lexicon.load_table(lexicon.MONTHS_FILE)

    assert REQUIRED_LANGUAGES <= set(months)
    assert all(set(months[language]) == {str(n) for n in range(1, 13)} for language in months)
    assert set(lexicon.month_numbers().values()) == set(range(1, 13))  # raises LexiconError on a conflict


def test_present_words_and_labels_cover_the_required_languages():
    assert REQUIRED_LANGUAGES <= set(lexicon.load_table(lexicon.PRESENT_WORDS_FILE))
    for concern in ("credential_id", "issued", "expires", "see_credential"):
        assert REQUIRED_LANGUAGES <= set(lexicon.load_table(lexicon.LABELS_FILE)[concern])


@pytest.mark.parametrize("text, label_found, rest", [
    ("Credential ID Y56E6CQDYP6F", True, "Y56E6CQDYP6F"),
    ("ID da credencial: ab-12", True, "ab-12"),
    ("معرف الشهادة 123ABC", True, "123ABC"),  # written without the shadda the lexicon has
    ("ID de la certification  XYZ", True, "XYZ"),
    ("IDX123", False, "IDX123"),
])
def test_strip_leading_label(text, label_found, rest):
    assert strip_leading_label(text, list(lexicon.labels("credential_id"))) == (label_found, rest)


def test_fold_unifies_accents_apostrophes_and_digits():
    assert fold("Aujourd’hui") == fold("aujourd'hui")
    assert fold("FÉV.") == "fev."
    assert fold("٢٠٢١") == "2021"


@pytest.mark.parametrize("text, is_grade", [
    ("3.6 GPA", True), ("CGPA: 8.7", True), ("16/20", True), ("9,1/10", True), ("First Class Honours", True),
    ("Magna Cum Laude", True), ("Mention Très Bien", True), ("Sobresaliente", True), ("امتياز", True),
    ("Computer Science", False), ("Gestion", False), ("Economia", False), ("Class Piano", False),
    ("Ingeniería Industrial", False), ("إدارة الأعمال", False), ("", False), (None, False),
])
def test_looks_like_grade(text, is_grade):
    assert looks_like_grade(text) is is_grade
