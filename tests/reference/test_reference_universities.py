import pickle

import pytest

from credsignal.reference.universities import (
    CWUR_PATH_ENV_VAR,
    DEFAULT_SCORE_CUTOFF,
    RankMatch,
    UniversityRanker,
    default_cwur_path,
    university_match_key,
)

CWUR_PATH = default_cwur_path()
pytestmark = pytest.mark.skipif(
    not CWUR_PATH.is_file(), reason=f"shared CWUR table not found at {CWUR_PATH} (set {CWUR_PATH_ENV_VAR})"
)


@pytest.fixture(scope="module")
def ranker() -> UniversityRanker:
    return UniversityRanker(CWUR_PATH)


@pytest.mark.parametrize(
    "school, country, institution, cwur_country",
    [
        ("Univ. of São Paulo", None, "University of São Paulo", "Brazil"),
        ("Universidade de São Paulo", "Brasil", "University of São Paulo", "Brazil"),
        ("universidade de sao paulo", "BR", "University of São Paulo", "Brazil"),
        ("USP", None, "University of São Paulo", "Brazil"),
        ("Universidade Federal de São Paulo", None, "Federal University of São Paulo", "Brazil"),
        ("Universidade Federal do Rio de Janeiro", "Brazil", "Federal University of Rio de Janeiro", "Brazil"),
        ("Cairo University", "Egypt", "Cairo University", "Egypt"),
        ("جامعة القاهرة", None, "Cairo University", "Egypt"),
        ("Universidad Nacional Autónoma de México", "México", "National Autonomous University of Mexico", "Mexico"),
        ("UNAM", None, "National Autonomous University of Mexico", "Mexico"),
        ("IIT Bombay", "India", "Indian Institute of Technology Bombay", "India"),
        ("Université de Montréal", None, "University of Montreal", "Canada"),
        ("Universidad de los Andes", "Colombia", "University of Los Andes (Colombia)", "Colombia"),
        ("Univeristy of Toronto", None, "University of Toronto", "Canada"),
        ("Harvard University", "United States", "Harvard University", "USA"),
        ("Northeastern University", "China", "Northeastern University (China)", "China"),
    ],
)
def test_real_names_match(ranker, school, country, institution, cwur_country):
    match = ranker.match(school, country)
    assert match is not None
    assert (match.institution, match.country) == (institution, cwur_country)
    assert DEFAULT_SCORE_CUTOFF <= match.score <= 100
    assert match.national_rank >= 1


def test_latest_year_national_rank_is_used(ranker):
    match = ranker.match("University of São Paulo", "Brazil")
    assert match == RankMatch("University of São Paulo", "Brazil", 1, 100.0)
    rows = {row.institution: row for row in ranker.iter_rows()}
    assert rows["University of São Paulo"].year == 2015
    assert len(rows) == len(list(ranker.iter_rows()))


@pytest.mark.parametrize(
    "school, country",
    [
        ("Harvard University", "Brazil"),  # country disagreement
        ("University of Lagos", "Nigeria"),  # country absent from CWUR
        ("Universidade Paulista", None),
        ("Faculdade Anhanguera", None),
        ("University of California", None),  # ambiguous between campuses
        ("Universidad de Mexico", None),  # neither UNAM nor the University of New Mexico
        ("Harvard", None),  # too short to be confident
        ("Northeastern University", None),  # same name in the USA and China
        ("Henan University", None),  # Hunan University is a different institution
        ("Anna University", None),
        ("", None),
        (None, "Brazil"),
    ],
)
def test_no_confident_match(ranker, school, country):
    assert ranker.match(school, country) is None


def test_unknown_country_string_is_ignored_not_guessed(ranker):
    assert ranker.match("Cairo University", "Somewhere") is not None


@pytest.mark.parametrize(
    "local_name, english_name",
    [("Universidade de São Paulo", "University of Sao Paulo"), ("Université de Montréal", "Montreal University"),
     ("The University of Tokyo", "Tokyo University"), ("Univ. of Chile", "Universidad de Chile")],
)
def test_match_keys_are_language_neutral(local_name, english_name):
    # Word order is left to token_sort_ratio, so compare the sorted words.
    assert sorted(university_match_key(local_name).split()) == sorted(university_match_key(english_name).split())


def test_env_var_configures_default_path(monkeypatch, tmp_path):
    monkeypatch.setenv(CWUR_PATH_ENV_VAR, str(tmp_path / "cwur.csv"))
    assert default_cwur_path() == tmp_path / "cwur.csv"
    with pytest.raises(FileNotFoundError):
        UniversityRanker()


def test_rows_export_and_pickle_for_spark(ranker):
    records = ranker.to_records()
    assert {"institution", "country", "national_rank", "world_rank", "year", "match_key"} <= set(records[0])
    clone = pickle.loads(pickle.dumps(ranker))
    assert clone.match("Cairo University") == ranker.match("Cairo University")
