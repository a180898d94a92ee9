"""Regression floor: the dictionaries must keep high precision and recall on the labelled sets."""

import importlib.util
import sys
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
PRECISION_RECALL_FLOOR = 0.9
MINIMUM_SUPPORT = {"development": 5, "holdout": 5}


def _load_bench_module():
    spec = importlib.util.spec_from_file_location("eval_dictionaries", REPOSITORY_ROOT / "bench" / "eval_dictionaries.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


eval_dictionaries = _load_bench_module()


def test_eval_sets_are_large_and_multilingual():
    titles = eval_dictionaries.read_rows(eval_dictionaries.JOB_TITLES_CSV)
    degrees = eval_dictionaries.read_rows(eval_dictionaries.DEGREE_TITLES_CSV)
    assert len(titles) >= 400 and len(degrees) >= 150
    assert {"en", "pt", "es", "fr"} <= {row["language"] for row in titles}
    assert {"en", "pt", "es", "fr"} <= {row["language"] for row in degrees}


@pytest.mark.parametrize("eval_set", ["development", "holdout"])
def test_precision_and_recall_floor(eval_set):
    for score in eval_dictionaries.all_scores(eval_set):
        assert score.support >= MINIMUM_SUPPORT[eval_set], score.dictionary
        assert score.precision >= PRECISION_RECALL_FLOOR, (score.dictionary, score.false_positive_texts)
        assert score.recall >= PRECISION_RECALL_FLOOR, (score.dictionary, score.false_negative_texts)
