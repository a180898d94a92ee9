"""bench/scale_bronze.py: the tiling behind the 10x feature benchmark keeps each copy's rows and makes keys distinct."""

from datetime import date

import pytest
from pyspark.testing import assertDataFrameEqual


@pytest.fixture(scope="module")
def scale_bronze(bench_script):
    return bench_script("scale_bronze")


def test_copies_keep_rows_and_suffix_every_key(spark, scale_bronze):
    learners = spark.createDataFrame(
        [("lrn_a", "https://www.linkedin.com/in/ana-b", date(2023, 1, 2)), ("lrn_b", None, date(2023, 1, 3))],
        "learner_id string, linkedin_url string, dt date",
    )
    expected = spark.createDataFrame(
        [
            ("lrn_a", "https://www.linkedin.com/in/ana-b", date(2023, 1, 2)),
            ("lrn_b", None, date(2023, 1, 3)),
            ("lrn_a~1", "https://www.linkedin.com/in/c1-ana-b", date(2023, 1, 2)),
            ("lrn_b~1", None, date(2023, 1, 3)),
            ("lrn_a~2", "https://www.linkedin.com/in/c2-ana-b", date(2023, 1, 2)),
            ("lrn_b~2", None, date(2023, 1, 3)),
        ],
        "learner_id string, linkedin_url string, dt date",
    )
    assertDataFrameEqual(scale_bronze.tiled(learners, "learners", 3), expected)


def test_references_between_sources_stay_inside_their_copy(spark, scale_bronze):
    certificates = spark.createDataFrame([("C1", "lrn_a")], "certificate_id string, learner_id string")
    views = spark.createDataFrame([("v1", "C1")], "view_id string, certificate_id string")
    joined = scale_bronze.tiled(views, "certificate_views", 2).join(
        scale_bronze.tiled(certificates, "certificates", 2), "certificate_id")
    assertDataFrameEqual(joined, spark.createDataFrame(
        [("C1", "v1", "lrn_a"), ("C1~1", "v1~1", "lrn_a~1")], "certificate_id string, view_id string, learner_id string"))
