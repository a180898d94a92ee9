import json
from importlib import resources

import pytest

from credsignal.reference.countries import (
    classify_country,
    developed_alpha2_codes,
    developed_country_flag,
    resolve_country,
)

PAPER_APPENDIX_B1 = [
    "Austria", "Australia", "Belgium", "Canada", "Chile", "Colombia", "Costa Rica", "Czech Republic", "Denmark",
    "Estonia", "Finland", "France", "Germany", "Greece", "Hungary", "Iceland", "Ireland", "Israel", "Italy", "Japan",
    "Korea, Republic of", "Latvia", "Lithuania", "Luxembourg", "Mexico", "Netherlands", "New Zealand", "Norway",
    "Poland", "Portugal", "Slovak Republic", "Slovenia", "Spain", "Sweden", "Switzerland", "Turkey", "United Kingdom",
    "United States",
]
OECD_ALPHA2 = set("AT AU BE CA CL CO CR CZ DK EE FI FR DE GR HU IS IE IL IT JP KR LV LT LU MX NL NZ NO PL PT SK SI ES SE CH TR GB US".split())


def test_paper_lists_38_developed_countries():
    assert len(PAPER_APPENDIX_B1) == 38
    assert developed_alpha2_codes() == OECD_ALPHA2


@pytest.mark.parametrize("name", PAPER_APPENDIX_B1)
def test_every_paper_country_is_developed(name):
    assert classify_country(name) == "developed"
    assert developed_country_flag(name) == 1


@pytest.mark.parametrize("alpha2", sorted(OECD_ALPHA2))
def test_developed_alpha2_codes(alpha2):
    assert classify_country(alpha2) == "developed"
    assert classify_country(alpha2.lower()) == "developed"
    assert resolve_country(alpha2).alpha2 == alpha2


@pytest.mark.parametrize(
    "variant, alpha2",
    [
        ("Korea, Republic of", "KR"), ("South Korea", "KR"), ("Republic of Korea", "KR"), ("Korea", "KR"),
        ("Türkiye", "TR"), ("Turkey", "TR"), ("Turkiye", "TR"), ("Czechia", "CZ"), ("Czech Republic", "CZ"),
        ("Slovakia", "SK"), ("Slovak Republic", "SK"), ("USA", "US"), ("U.S.A.", "US"), ("US", "US"),
        ("United States of America", "US"), ("Estados Unidos", "US"), ("États-Unis", "US"), ("UK", "GB"),
        ("Great Britain", "GB"), ("England", "GB"), ("Reino Unido", "GB"), ("Royaume-Uni", "GB"),
        ("The Netherlands", "NL"), ("Holland", "NL"), ("Deutschland", "DE"), ("Alemanha", "DE"), ("México", "MX"),
        ("MEXICO", "MX"), ("costa rica", "CR"), ("Colômbia", "CO"), ("España", "ES"), ("Suisse", "CH"),
        ("Japon", "JP"), ("ألمانيا", "DE"), ("USA ", "US"), ("GBR", "GB"), ("Paris, France", "FR"),
    ],
)
def test_developed_variants(variant, alpha2):
    country = resolve_country(variant)
    assert country is not None and country.alpha2 == alpha2
    assert classify_country(variant) == "developed"


@pytest.mark.parametrize(
    "value",
    ["Brazil", "Brasil", "India", "IN", "Índia", "Egypt", "مصر", "Nigeria", "China", "Russia", "Argentina", "Perú",
     "Puerto Rico", "Hong Kong", "Taiwan", "Georgia", "Côte d'Ivoire", "Ivory Coast", "São Paulo, Brasil", "BRA", "North Korea"],
)
def test_developing_countries(value):
    assert classify_country(value) == "developing"
    assert developed_country_flag(value) == 0


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "Narnia", "Europe", "Remote", "Earth", "Pittsburgh, PA", "Atlanta, Georgia", "Mar", "can", "XX", "Unitd Stats", "123"],
)
def test_unknown_values_are_never_guessed(value):
    assert classify_country(value) == "unknown"
    assert developed_country_flag(value) is None


def test_no_country_appears_in_both_files():
    data = resources.files("credsignal.reference").joinpath("data")
    developed = json.loads(data.joinpath("developed_countries.json").read_text(encoding="utf-8"))["countries"]
    others = json.loads(data.joinpath("other_countries.json").read_text(encoding="utf-8"))["countries"]
    assert len(developed) == 38
    assert not {c["alpha2"] for c in developed} & {c["alpha2"] for c in others}
    assert len(others) >= 200
