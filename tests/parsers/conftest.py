"""Fixtures for the LinkedIn parser tests: the real sample pages are read from ../shared/, never copied here."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "linkedin_samples"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"real LinkedIn samples not found at {SAMPLES.resolve()} (the shared folder beside the repo)")
    return SAMPLES


@pytest.fixture(scope="session")
def read_sample(samples_dir: Path):
    cache: dict[str, bytes] = {}

    def read(relative_path: str) -> bytes:
        if relative_path not in cache:
            cache[relative_path] = (samples_dir / relative_path).read_bytes()
        return cache[relative_path]

    return read
