"""The one loader of the pipeline's word lists: the versioned JSON files in ``credsignal/reference/data``.

Every word list lives there, whoever reads it (the reference classifiers, the parsers' lexicon, the feature job),
so a word is added in one place and ships with the package.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=None)
def load_json(file_name: str) -> Any:
    """Parsed content of ``credsignal/reference/data/<file_name>``; cached per process (and per Spark worker)."""
    data_file = resources.files("credsignal.reference").joinpath("data").joinpath(file_name)
    return json.loads(data_file.read_text(encoding="utf-8"))
