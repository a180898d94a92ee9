"""Reference data and classifiers of the study: countries, job titles, degrees, university rankings.

Data files live in ``credsignal/reference/data`` and are versioned with the
code; the CWUR ranking table is read from outside the repository (see
:mod:`credsignal.reference.universities`). Loaders are cached per process so
the functions can be called from Spark UDFs.
"""

from credsignal.reference.countries import (
    CountryClass,
    classify_country,
    developed_country_flag,
    resolve_country,
)
from credsignal.reference.degrees import DegreeLevel, degree_level, has_degree
from credsignal.reference.job_titles import TitleClass, classify_title
from credsignal.reference.universities import (
    RankMatch,
    UniversityRanker,
    default_cwur_path,
    default_ranker,
    university_national_rank,
)

__all__ = [
    "CountryClass",
    "DegreeLevel",
    "RankMatch",
    "TitleClass",
    "UniversityRanker",
    "classify_country",
    "classify_title",
    "default_cwur_path",
    "default_ranker",
    "degree_level",
    "developed_country_flag",
    "has_degree",
    "resolve_country",
    "university_national_rank",
]
