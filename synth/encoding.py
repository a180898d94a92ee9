"""Vectorised helpers: random identifiers, day arithmetic and timestamp text in the contract's shapes."""

from __future__ import annotations

import json
from datetime import date
from functools import cache

import numpy as np

SECONDS_PER_DAY = 86_400
UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
HEX = "0123456789abcdef"

# Timestamp text styles; all name the same UTC instant.
STYLE_Z = 0  # 2022-10-31T14:05:09Z
STYLE_MILLIS = 1  # 2022-10-31T14:05:09.250Z
STYLE_MINUTES = 2  # 2022-10-31T14:05Z (the instant is truncated to the minute when this style is chosen)
STYLE_OFFSET = 3  # 2022-10-31T19:35:09+05:30 (local wall time plus offset)


def day_number(value: date) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))


def day_to_date(day: int) -> date:
    return np.datetime64(int(day), "D").astype(object)


def random_codes(
    rng: np.random.Generator, n: int, length: int, alphabet: str, exclude: np.ndarray | None = None
) -> np.ndarray:
    """n distinct random codes (unicode array), none of which is in `exclude`."""
    lut = np.frombuffer(alphabet.encode("ascii"), dtype=np.uint8)
    codes = np.empty(0, dtype=f"U{length}")
    while codes.size < n:
        picks = lut[rng.integers(0, len(alphabet), size=(n - codes.size, length))]
        merged = np.concatenate([codes, picks.view(f"S{length}").ravel().astype(f"U{length}")])
        _, first = np.unique(merged, return_index=True)
        merged = merged[np.sort(first)]
        if exclude is not None and exclude.size:
            merged = merged[~np.isin(merged, exclude)]
        codes = merged
    return codes[:n]


def json_strings(values: list[str | None]) -> list[str]:
    """JSON text for each value (null for None); non-ASCII kept as UTF-8."""
    return ["null" if v is None else json.dumps(v, ensure_ascii=False) for v in values]


def quoted(values: np.ndarray) -> list[str]:
    """JSON text for strings known to need no escaping (ids, fixed ASCII codes)."""
    return ['"' + v + '"' for v in values.tolist()]


def assign_timestamp_styles(
    rng: np.random.Generator, seconds: np.ndarray, share_millis: float = 0.02, share_minutes: float = 0.01,
    share_offset: float = 0.02,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick a text style per event; returns (adjusted seconds, style). Minute-only text truncates the instant."""
    u = rng.random(seconds.size)
    style = np.full(seconds.size, STYLE_Z, dtype=np.int8)
    style[u < share_millis + share_minutes + share_offset] = STYLE_OFFSET
    style[u < share_millis + share_minutes] = STYLE_MINUTES
    style[u < share_millis] = STYLE_MILLIS
    adjusted = seconds.copy()
    minutes = style == STYLE_MINUTES
    adjusted[minutes] -= adjusted[minutes] % 60
    return adjusted, style


_OFFSET_MINUTES = np.array([330, -180, 60, -300, 480, 120], dtype=np.int64)


@cache
def _clock_texts() -> list[str]:
    return [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


def _iso_seconds(seconds: np.ndarray) -> list[str]:
    """'YYYY-MM-DDTHH:MM:SS' per instant, via lookup tables (datetime_as_string is the slow part at scale)."""
    days, inverse = np.unique(seconds // SECONDS_PER_DAY, return_inverse=True)
    day_texts = np.datetime_as_string(days.astype("datetime64[D]")).tolist()
    clock = _clock_texts()
    return [
        day_texts[d] + "T" + clock[t]
        for d, t in zip(inverse.ravel().tolist(), (seconds % SECONDS_PER_DAY).tolist())
    ]


def format_timestamps(seconds: np.ndarray, style: np.ndarray, salt: np.ndarray | None = None) -> list[str]:
    """Contract-shaped timestamp text (JSON-quoted) for epoch seconds in the given styles."""
    seconds = np.asarray(seconds, dtype=np.int64)
    text = _iso_seconds(seconds)
    out = ['"' + t + 'Z"' for t in text]
    for index in np.flatnonzero(style == STYLE_MILLIS).tolist():
        out[index] = f'"{text[index]}.{(int(seconds[index]) * 7 + 250) % 1000:03d}Z"'
    for index in np.flatnonzero(style == STYLE_MINUTES).tolist():
        out[index] = f'"{text[index][:16]}Z"'
    offset_rows = np.flatnonzero(style == STYLE_OFFSET)
    if offset_rows.size:
        pick = (seconds[offset_rows] if salt is None else salt[offset_rows]) % _OFFSET_MINUTES.size
        offsets = _OFFSET_MINUTES[pick]
        local = _iso_seconds(seconds[offset_rows] + offsets * 60)
        for index, local_text, minutes in zip(offset_rows.tolist(), local, offsets.tolist()):
            sign = "+" if minutes >= 0 else "-"
            out[index] = f'"{local_text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"'
    return out
