"""``python -m parsers.linkedin FILE...``: one JSON result per line per page (per record for vendor .json lists).

.html and .html.gz files are pages; .json (.json.gz) files hold one vendor record or a list of them, and a
record of a list is reported with source ``<path>#<index>``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any, Iterator

from parsers.linkedin.parser import DEFAULT_MAX_BYTES, parse_profile, parse_vendor_json_record
from parsers.linkedin.result import new_result

# A vendor file bundles many records; the per-profile cap applies to each record, not to the file.
JSON_FILE_CAP_FACTOR = 64


def _read_capped(path: Path, cap: int) -> bytes | None:
    """File bytes (gunzipped for .gz), or None when over ``cap``."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read(cap + 1)
    return None if len(data) > cap else data


def _is_json_file(path: Path) -> bool:
    suffixes = [suffix.lower() for suffix in path.suffixes]
    return bool(suffixes) and (suffixes[-1] == ".json" or suffixes[-2:] == [".json", ".gz"])


def results_for_file(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[dict[str, Any]]:
    source = str(path)
    try:
        if not _is_json_file(path):
            data = _read_capped(path, max_bytes)
            yield new_result(source, "too_large", "over_size_cap") if data is None else parse_profile(
                data, "text/html", source=source, max_bytes=max_bytes)
            return
        data = _read_capped(path, max_bytes * JSON_FILE_CAP_FACTOR)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        yield new_result(source, "unparseable", f"unreadable_file:{type(error).__name__}")
        return
    if data is None:
        yield new_result(source, "too_large", "over_size_cap")
        return
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        yield parse_profile(data, "application/json", source=source, max_bytes=max_bytes)
        return
    records = document if isinstance(document, list) else [document]
    for index, record in enumerate(records):
        record_source = f"{source}#{index}" if isinstance(document, list) else source
        if len(json.dumps(record, ensure_ascii=False)) > max_bytes:
            yield new_result(record_source, "too_large", "over_size_cap")
        else:
            yield parse_vendor_json_record(record, record_source)


def main(argv: list[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(prog="python -m parsers.linkedin", description=__doc__)
    arguments.add_argument("files", nargs="+", type=Path)
    arguments.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES,
                           help="size cap per page or record (default: %(default)s)")
    options = arguments.parse_args(argv)
    for path in options.files:
        for result in results_for_file(path, options.max_bytes):
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
