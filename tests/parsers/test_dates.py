"""Multilingual date parsing: the month table and "present" words (credsignal/reference/data) plus one regex."""

from __future__ import annotations

import pytest

from parsers.dates import DateRange, guess_language, parse_date_range, parse_single_date


@pytest.mark.parametrize("text, expected", [
    # English, guest and logged-in layouts, durations in both spellings
    ("Mar 2022 - Present", DateRange("2022-03", None, True)),
    ("Mar 2022 - Present 1 year 2 months", DateRange("2022-03", None, True)),
    ("Dec 2019 - Present · 2 yrs 4 mos", DateRange("2019-12", None, True)),
    ("Sep 2018 - Dec 2019 · 1 yr 4 mos", DateRange("2018-09", "2019-12", False)),
    ("Oct 2022 – Mar 2023", DateRange("2022-10", "2023-03", False)),
    # one side missing: the dash says which side
    ("2013 - ", DateRange("2013", None, False)),
    (" - 2011", DateRange(None, "2011", False)),
    ("– dez. de 2019", DateRange(None, "2019-12", False)),
    ("Jun 2022", DateRange("2022-06", "2022-06", False)),
    ("September 2015 — June 2016", DateRange("2015-09", "2016-06", False)),
    ("Sept 2015 - Now", DateRange("2015-09", None, True)),
    ("May 2016 · 1 mo", DateRange("2016-05", "2016-05", False)),
    ("2016 - 2020", DateRange("2016", "2020", False)),
    ("2014 - Jun 2019", DateRange("2014", "2019-06", False)),
    ("2007 - Present 17 years", DateRange("2007", None, True)),
    ("2023-03", DateRange("2023-03", "2023-03", False)),
    ("Sep 2018 -", DateRange("2018-09", None, False)),
    # Portuguese
    ("jan. de 2021 - o momento", DateRange("2021-01", None, True)),
    ("jan de 2021 - o momento · 2 anos 3 meses", DateRange("2021-01", None, True)),
    ("set. de 2020 - dez. de 2021 · 1 ano 4 meses", DateRange("2020-09", "2021-12", False)),
    ("fevereiro de 2019 – atual", DateRange("2019-02", None, True)),
    ("mai. de 2018 - out. de 2019", DateRange("2018-05", "2019-10", False)),
    ("abr 2017 - até o momento", DateRange("2017-04", None, True)),
    # Spanish
    ("ene. 2023 - actualidad", DateRange("2023-01", None, True)),
    ("ene. de 2023 - la actualidad · 1 año 2 meses", DateRange("2023-01", None, True)),
    ("dic. 2020 - ago. 2022", DateRange("2020-12", "2022-08", False)),
    ("sept. 2019 - Presente", DateRange("2019-09", None, True)),
    ("set. 2020 - jul. 2021", DateRange("2020-09", "2021-07", False)),
    ("marzo de 2015 - abril de 2016", DateRange("2015-03", "2016-04", False)),
    # French
    ("janv. 2022 - aujourd’hui", DateRange("2022-01", None, True)),
    ("janv. 2022 - aujourd'hui · 1 an 3 mois", DateRange("2022-01", None, True)),
    ("fév. 2021 - déc. 2021", DateRange("2021-02", "2021-12", False)),
    ("févr. 2020 - juil. 2020", DateRange("2020-02", "2020-07", False)),
    ("août 2018 - sept. 2019", DateRange("2018-08", "2019-09", False)),
    ("mai 2019 - Présent", DateRange("2019-05", None, True)),
    # Arabic (incl. Levantine and Maghreb month names, Eastern Arabic digits)
    ("يناير 2022 - حتى الآن", DateRange("2022-01", None, True)),
    ("مارس 2019 - ديسمبر 2020", DateRange("2019-03", "2020-12", False)),
    ("أغسطس ٢٠٢١ - الحالي", DateRange("2021-08", None, True)),
    ("كانون الثاني 2018 - أيار 2019", DateRange("2018-01", "2019-05", False)),
    ("شتنبر 2020 - يوليوز 2021", DateRange("2020-09", "2021-07", False)),
    # Indonesian
    ("Agu 2020 - Saat ini", DateRange("2020-08", None, True)),
    ("Okt 2019 - Des 2020", DateRange("2019-10", "2020-12", False)),
    # nothing usable
    ("", DateRange(None, None, False)),
    ("2 yrs 3 mos", DateRange(None, None, False)),
    ("Present", DateRange(None, None, True)),
])
def test_parse_date_range(text, expected):
    assert parse_date_range(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Issued Dec 2022", "2022-12"),
    ("Emitido em jan. de 2022", "2022-01"),
    ("Expedición: dic. 2021", "2021-12"),
    ("Émis le déc. 2021", "2021-12"),
    ("تاريخ الإصدار نوفمبر 2020", "2020-11"),
    ("Expires 2025", "2025"),
    ("No Expiration Date", None),
    ("Credential ID 4,625,344", None),  # digits, but not a year
    (None, None),
])
def test_parse_single_date(text, expected):
    assert parse_single_date(text) == expected


@pytest.mark.parametrize("texts, expected", [
    (["Dec 2019 - Present · 2 yrs 4 mos"], "en"),
    (["jan. de 2021 - o momento", "set. de 2020 - dez. de 2021"], "pt"),
    (["ene. 2023 - actualidad"], "es"),
    (["janv. 2022 - aujourd’hui", "fév. 2021 - déc. 2021"], "fr"),
    (["يناير 2022 - حتى الآن"], "ar"),
    (["Jan 2020 - 2021"], None),  # "Jan" is en, pt, fr and id alike
    (["Jan 2020 - 2021", "Issued Jan 2021"], "en"),  # the label decides
    (["2016 - 2020", "Emitido em 2021", "ID da credencial X1"], "pt"),
    (["Experiencia", "2019 - 2020"], "es"),
    (["Issued", "Emitido"], None),  # one vote each: undecidable
    ([], None),
])
def test_guess_language(texts, expected):
    assert guess_language(texts) == expected
