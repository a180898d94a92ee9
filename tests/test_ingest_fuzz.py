"""Property-based fuzzing of the ingest line validator (issue 17): wrong JSON types, huge numbers, NaN and
Infinity literals, deep nesting, invalid UTF-8, trailing text.

The pure Python strict JSON check runs on many inputs; the whole validator (from_json, the strict check, the
typed casts and the rule order) runs on the shared Spark session once per generated batch of lines, with the
expected reason of every line decided from what the generator planted in it."""

from __future__ import annotations

import gzip
import io
import json
import tempfile
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credsignal.core.contracts import EXPORT_LINE_SCHEMA, EXPORT_SOURCES
from jobs.ingest import _ACCEPTED_KINDS, ABSENT, ARRAY, BOOLEAN, INTEGER, NON_FINITE, NULL, NUMBER, OBJECT, STRING, \
    UNREADABLE_FILE_LINE, gunzip, json_field_kinds, json_field_kinds_by_json, json_kind_bits, \
    validate_export_lines

DAY = date(2022, 10, 31)
FIELDS = ("a", "b")

# ------------------------------------------------------------------------------ the pure Python check

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)
# A value together with the kind the generator knows it has.
typed_values = st.one_of(
    st.none().map(lambda v: (v, NULL)),
    st.booleans().map(lambda v: (v, BOOLEAN)),
    st.integers().map(lambda v: (v, INTEGER)),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda v: (v, NUMBER)),
    st.text().map(lambda v: (v, STRING)),
    st.lists(json_values, max_size=3).map(lambda v: (v, ARRAY)),
    st.dictionaries(st.text(max_size=5), json_values, max_size=3).map(lambda v: (v, OBJECT)),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS + ("c",)), typed_values, max_size=3))
def test_kinds_of_any_json_object(planted):
    kinds = json_field_kinds(json.dumps({name: value for name, (value, _) in planted.items()}), FIELDS)
    assert kinds == tuple(planted[name][1] if name in planted else ABSENT for name in FIELDS)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary().map(lambda b: b.decode("utf-8", errors="replace")),
                 st.builds(lambda v, junk: json.dumps({"a": v}) + junk, json_values,
                           st.text(min_size=1).filter(lambda t: t.strip()))))
def test_anything_else_is_malformed_or_an_object_and_never_raises(text):
    kinds = json_field_kinds(text, FIELDS)
    try:
        is_object = isinstance(json.loads(text, parse_constant=_no_constants), dict)
    except (ValueError, RecursionError):
        is_object = False
    if not is_object:
        assert kinds is None
    if kinds is not None:
        assert len(kinds) == len(FIELDS)


def _nested(depth: int, opener: str) -> str:
    closer = "]" if opener == "[" else "}"
    return '{"a":' + opener * depth + "1" + closer * depth + "}"


# Lines near every edge where msgspec and json might read differently: literals and numbers beyond a double,
# integers near Python's 4,300-digit limit, escapes (lone and paired surrogates, control characters), nesting
# around the depth at which json_field_kinds stops asking msgspec, duplicate keys, whitespace, trailing text.
edge_lines = st.one_of(
    st.builds(lambda name, literal: '{"%s":%s}' % (name, literal), st.sampled_from(FIELDS + ("c",)),
              st.sampled_from(["NaN", "Infinity", "-Infinity", "1e308", "1.8e308", "-1e999", "1e-400", "-0",
                               "0.0", "1E5", "01", "1.", ".5", "+1", "true", "null", '"\\u0000"'])),
    st.integers(min_value=4290, max_value=4310).map(lambda digits: '{"a":%s}' % ("9" * digits)),
    st.builds(lambda a, b: '{"a":"\\u%04x\\u%04x"}' % (a, b), st.integers(0xD700, 0xE000), st.integers(0xD700, 0xE000)),
    st.builds(_nested, st.integers(min_value=400, max_value=1100), st.sampled_from(["[", '{"k":'])),
    st.builds(lambda v, w: '{"a":%s,"a":%s}' % (json.dumps(v), json.dumps(w)), json_values, json_values),
    st.builds(lambda pad, v, tail: pad + json.dumps({"a": v}) + tail, st.sampled_from(["", " ", "\t", "\ufeff", "\r"]),
              json_values, st.sampled_from(["", " ", "\r", "\n", "x", "}", "\x00"])),
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(edge_lines, st.text(), st.binary().map(lambda b: b.decode("utf-8", errors="replace")),
                 json_values.map(json.dumps),
                 st.dictionaries(st.sampled_from(FIELDS + ("c",)), json_values).map(json.dumps)))
def test_the_fast_reading_gives_the_contracts_kinds(text):
    """json_field_kinds reads a line with msgspec where it can: on any line it must give what json gives."""
    assert json_field_kinds(text, FIELDS) == json_field_kinds_by_json(text, FIELDS)


def _crawl_line_by_json_one_frame_down(line: bytes):
    """jobs.parse.read_crawl_line_by_json, called from as deep in the stack as read_crawl_line calls it: json's
    nesting limit counts the frames of its callers."""
    from jobs.parse import read_crawl_line_by_json

    return read_crawl_line_by_json(line)


PAGE_FIELDS = ("body", "profile_url", "fetched_at", "http_status", "content_type", "other")
crawl_lines = st.one_of(
    st.binary(),
    st.one_of(edge_lines, json_values.map(json.dumps), st.text()).map(lambda text: text.encode("utf-8")),
    st.builds(lambda record, ascii_only: json.dumps(record, ensure_ascii=ascii_only).encode("utf-8"),
              st.dictionaries(st.sampled_from(PAGE_FIELDS), json_values), st.booleans()),
    # Damage inside a record: a byte that breaks UTF-8, or a lone surrogate written as UTF-8 bytes.
    st.builds(lambda record, at, damage: (lambda raw: raw[:at % (len(raw) + 1)] + damage + raw[at % (len(raw) + 1):])(
        json.dumps(record, ensure_ascii=False).encode("utf-8")),
        st.dictionaries(st.sampled_from(PAGE_FIELDS), json_values, min_size=1), st.integers(min_value=0),
        st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00", b"\\"])),
)


@settings(max_examples=600, deadline=None)
@given(crawl_lines)
def test_a_crawl_line_is_read_as_json_reads_its_text(line):
    """jobs.parse.read_crawl_line reads a line's bytes with msgspec where it can: it must give what decoding the
    line and reading it with json gives, value and malformed-record reason alike."""
    from jobs.parse import read_crawl_line

    value, reason = read_crawl_line(line)
    expected_value, expected_reason = _crawl_line_by_json_one_frame_down(line)
    assert reason == expected_reason
    if isinstance(expected_value, dict) and not any(isinstance(v, (dict, list)) for v in expected_value.values()):
        assert repr(value) == repr(expected_value)  # repr: tells 1 from 1.0 and -0.0 from 0.0, and NaN equals NaN
    else:  # a nested value is read by json itself (and may be too deep to compare by repr)
        assert type(value) is type(expected_value)


@pytest.mark.parametrize("opener", ["[", '{"k":'])
def test_a_crawl_line_nested_past_jsons_limit_is_malformed_though_msgspec_reads_it(opener):
    """msgspec reads a few levels deeper than json (996 against 993 here): a line nested in between is not JSON."""
    from jobs.parse import read_crawl_line

    for depth in range(900, 1100):
        line = _nested(depth, opener).encode("utf-8")
        assert read_crawl_line(line)[1] == _crawl_line_by_json_one_frame_down(line)[1], depth


@pytest.mark.parametrize("line, not_refused", [
    # certificate_views: view_id, certificate_id (strings), viewed_at (timestamp), referrer (string), by_owner (boolean)
    ('{"view_id": "v", "certificate_id": 7, "viewed_at": "2022-10-31T10:00:00Z", "referrer": 1.5, "by_owner": true}',
     {"view_id", "certificate_id", "viewed_at", "referrer", "by_owner"}),   # a number is read as a string's text
    ('{"view_id": null, "viewed_at": 1667210400, "by_owner": "true", "referrer": ["x"]}',
     {"view_id", "certificate_id"}),   # null and absent refuse nothing: the missing_field rule decides them
    ('{"view_id": {"a": 1}, "certificate_id": "c", "viewed_at": "soon", "by_owner": false, "extra": 1}',
     {"certificate_id", "viewed_at", "referrer", "by_owner"}),   # the kind is right; the shape of "soon" is another rule's
    ('{"referrer": 1e999, "by_owner": 1}', {"view_id", "certificate_id", "viewed_at"}),
])
def test_kind_bits_say_which_fields_hold_no_kind_their_type_refuses(line, not_refused):
    source = EXPORT_SOURCES["certificate_views"]
    for form in (line, line.encode("utf-8")):
        bits = json_kind_bits(form, source)
        assert bits & 1  # one JSON object
        assert {f.name for i, f in enumerate(source.schema.fields) if bits & (2 << i)} == not_refused


def _kind_bits_by_field_kinds(text: str, source) -> int:
    """json_kind_bits as json_field_kinds (held to json above) and the contract's accepted kinds define it."""
    kinds = json_field_kinds(text, tuple(source.schema.names))
    if kinds is None:
        return 0
    bits = 1
    for index, (kind, f) in enumerate(zip(kinds, source.schema.fields)):
        if kind in (NULL, ABSENT) or kind in _ACCEPTED_KINDS[type(f.dataType)]:
            bits |= 2 << index
    return bits


def _export_like_lines(source):
    """Lines like an export's, and each way one may differ from the typical line: an unknown field, a kind
    refused, a duplicate key, an escaped key, a huge integer, a byte that breaks UTF-8, whitespace, a BOM,
    trailing text, nesting."""
    names = list(source.schema.names)
    records = st.dictionaries(st.sampled_from(names + ["extra"]), typed_values.map(lambda pair: pair[0]), max_size=len(names) + 1)
    typical = st.dictionaries(st.sampled_from(names), st.one_of(
        st.none(), st.text(max_size=12), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans()))

    def dumped(record, ascii_only):
        return json.dumps(record, ensure_ascii=ascii_only).encode("utf-8")

    def damaged(raw, at, damage):
        at %= len(raw) + 1
        return raw[:at] + damage + raw[at:]

    def key_escaped(raw):
        return raw.replace(b'"' + names[0].encode() + b'"', b'"' + names[0][:-1].encode() + b'\\u%04x"' % ord(names[0][-1]), 1)

    return st.one_of(
        st.builds(dumped, typical, st.booleans()),
        st.builds(dumped, records, st.booleans()),
        st.builds(damaged, st.builds(dumped, typical, st.booleans()), st.integers(min_value=0),
                  st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00", b"\\", b" ", b"\r",
                                   b"\t", b"x", b"}", b"]", b",", b'"', b"\xef\xbf\xbd"])),
        st.builds(key_escaped, st.builds(dumped, typical, st.booleans())),
        st.builds(lambda value, digits: b'{"%s":%s}' % (value.encode(), b"9" * digits),
                  st.sampled_from(names + ["extra"]), st.integers(min_value=4080, max_value=4400)),
        st.builds(lambda name, a, b: b'{"%s":%s,"%s":%s}' % (name.encode(), json.dumps(a).encode(), name.encode(),
                                                          json.dumps(b).encode()),
                  st.sampled_from(names), json_values, json_values),
        st.builds(lambda name, depth: b'{"%s":' % name.encode() + b"[" * depth + b"1" + b"]" * depth + b"}",
                  st.sampled_from(names), st.integers(min_value=1, max_value=1100)),
        edge_lines.map(lambda text: text.replace('"a"', '"%s"' % names[0]).encode("utf-8")),
        st.binary(max_size=80),
    )


@pytest.mark.parametrize("source_name", sorted(EXPORT_SOURCES))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_typical_line_read_fast_gets_the_kind_bits_of_its_field_kinds(source_name, data):
    """_kind_bits_of reads a typical line with one msgspec decoding into a Struct: on any line, as bytes or as
    text, it must give the bits json_field_kinds and the contract's accepted kinds give."""
    source = EXPORT_SOURCES[source_name]
    line = data.draw(_export_like_lines(source))
    text = line.decode("utf-8", errors="replace")
    expected = _kind_bits_by_field_kinds(text, source)
    assert json_kind_bits(line, source) == expected
    assert json_kind_bits(text, source) == expected


@pytest.mark.parametrize("line", ['[1]', '{"view_id": "v"} x', '{"by_owner": NaN}', "", '{"view_id": "\\ud800"}'])
def test_kind_bits_of_a_line_that_is_not_one_json_object_are_zero(line):
    assert json_kind_bits(line, EXPORT_SOURCES["certificate_views"]) == 0


def _no_constants(name):
    raise ValueError(name)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=200_000), st.sampled_from(["[", "{\"k\":"]))
def test_deep_nesting_is_malformed_or_read_never_a_crash(depth, opener):
    closer = "]" if opener == "[" else "}"
    text = '{"a":' + opener * depth + "1" + closer * depth + "}"
    assert json_field_kinds(text, FIELDS) in (None, (ARRAY if opener == "[" else OBJECT, ABSENT))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["NaN", "Infinity", "-Infinity"]), st.sampled_from(FIELDS + ("c",)))
def test_nan_and_infinity_literals_make_the_line_malformed(literal, name):
    assert json_field_kinds('{"%s":%s}' % (name, literal), FIELDS) is None


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=309, max_value=5000), st.booleans())
def test_huge_numbers_are_non_finite_or_integers(exponent, as_integer):
    text = '{"a":%s}' % ("9" * exponent if as_integer else f"1e{exponent}")
    kinds = json_field_kinds(text, FIELDS)
    if as_integer:
        # Python refuses to read integers of more than 4300 digits: such a line is malformed, not an error.
        assert kinds == ((INTEGER, ABSENT) if exponent <= 4300 else None)
    else:
        assert kinds == (NON_FINITE, ABSENT)


def test_lone_surrogate_escapes_in_a_field_make_the_line_malformed():
    assert json_field_kinds('{"a":"\\ud800"}', FIELDS) is None
    assert json_field_kinds('{"a":"\\ud83d\\ude00"}', FIELDS) == (STRING, ABSENT)


def _rows_line_by_line(task):
    """The reader's rows of a file task, line by line: (partition, source_file, line_number, text, utf8_valid), or
    the error row. The reference the reader's batch, built column by column, is held to."""
    from jobs.ingest import _text_of, read_file_line_bytes

    for partition, relative_name, number, line in read_file_line_bytes(task):
        if number == UNREADABLE_FILE_LINE:
            yield (partition, relative_name, number, line, False)
        else:
            yield (partition, relative_name, number, *_text_of(line))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.builds(bytes.__add__, st.binary(max_size=60), st.sampled_from([b"", b"\r", b"\r\r"])), max_size=12),
       st.booleans())
def test_the_reader_gives_one_row_per_non_blank_line_and_flags_invalid_utf8(lines, compressed):
    data = b"\n".join(lines)
    with tempfile.TemporaryDirectory() as landing:
        path = Path(landing) / "part-00000.jsonl.gz"
        path.write_bytes(gzip.compress(data, mtime=0) if compressed else data)
        rows = list(_rows_line_by_line((DAY, path.name, str(path), landing)))
    if not compressed and data[:2] != b"\x1f\x8b":
        assert [row[2] for row in rows] == [UNREADABLE_FILE_LINE]  # not gzip (or empty): one row naming the error
        return
    if not compressed:
        return  # random bytes that start like gzip: either read or reported, never raised
    expected = [(n, line.rstrip(b"\r")) for n, line in enumerate(data.split(b"\n"), start=1)
                if line.rstrip(b"\r").strip()]
    assert [row[2] for row in rows] == [n for n, _ in expected]
    for row, (_, line) in zip(rows, expected):
        try:
            assert (row[3], row[4]) == (line.decode("utf-8"), True)
        except UnicodeDecodeError:
            assert row[4] is False


# ---------------------------------------------------------------------- decompression: ISA-L, zlib's errors

def _standard_gunzip(data: bytes) -> tuple:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as handle:
            return ("read", handle.read())
    except Exception as error:  # noqa: BLE001  (whatever it raises is what gunzip must raise)
        return (type(error), str(error))


def _damaged(members: list[bytes], damage: str, at: int, junk: bytes) -> bytes:
    data = b"".join(gzip.compress(member, mtime=0) for member in members)
    at %= max(1, len(data))
    return {
        "none": data,
        "truncated": data[:at],
        "flipped": data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:],
        "trailing": data + junk,
        "leading": junk + data,
        "overwritten": data[:at] + junk + data[at + len(junk):],
    }[damage]


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.binary(max_size=200),
    st.builds(_damaged, st.lists(st.binary(max_size=300), min_size=1, max_size=3),
              st.sampled_from(["none", "truncated", "flipped", "trailing", "leading", "overwritten"]),
              st.integers(min_value=0, max_value=10_000), st.binary(min_size=1, max_size=12)),
))
def test_gunzip_reads_what_the_standard_library_reads_and_fails_as_it_fails(data):
    # ISA-L decompresses; its errors differ from zlib's, and a file's quarantine reason must not change with it.
    expected = _standard_gunzip(data)
    if expected[0] == "read":
        assert gunzip(data) == expected[1]
    else:
        with pytest.raises(expected[0]) as raised:
            gunzip(data)
        assert (type(raised.value), str(raised.value)) == expected


# ---------------------------------------------------------------------- the whole validator on Spark
# Each value is (JSON text, planted category). Categories: ok, missing, bad_timestamp, out_of_range, bad_type.

def _cases(category: str, *texts: str) -> list[tuple[str, str]]:
    return [(text, category) for text in texts]


TIMESTAMPS = (
    _cases("ok", '"2022-10-31T09:00:00Z"', '"2022-10-31T14:05+05:30"', '"2022-10-31T23:30:00.5-03:00"')
    + _cases("missing", ABSENT, "null", '""')
    + _cases("bad_timestamp", '"yesterday"', '"2022-13-45T10:00:00Z"', '"2022-10-31T09:00:00"', "1665000000",
             '"2022-10-31T09:00:00Z\\n"',
             "true", '{"t":"2022-10-31T09:00:00Z"}', '["2022-10-31T09:00:00Z"]')
    + _cases("out_of_range", '"9999-12-31T00:00:00Z"', '"1999-12-31T23:59:59Z"', '"2022-11-02T00:00:00Z"')
)
TEXTS = (
    _cases("ok", '"V1"', "12", "3.5", '"\\u00e9t\\u00e9"', '"a\\"b"')
    + _cases("missing", ABSENT, "null", '""')
    + _cases("bad_type", "true", '{"id":"V3"}', '["V"]', "1e999", "-1e400")
)
OPTIONAL_TEXTS = [case for case in TEXTS if case[1] != "missing"] + _cases("ok", ABSENT, "null", '""')
BOOLEANS = (
    _cases("ok", "true", "false")
    + _cases("missing", ABSENT, "null", '""')
    + _cases("bad_type", '"true"', '"false"', "0", "1", '{"b":true}', "[true]")
)
NUMBERS = (
    _cases("ok", "0.5", "-3", "1e308", "12345678901234567890", "-0.0", "5E-400")
    + _cases("missing", ABSENT, "null", '""')
    + _cases("bad_type", '"1e999"', '"0.5"', "1e999", "-1E400", "true", '{"s":1}', "[1]", '"NaN"')
)
# Line-level damage: (how to damage the object text, utf8_valid). Each of these is malformed_json.
DAMAGE = {
    "trailing_text": (lambda obj: obj + " tail", True),
    "second_object": (lambda obj: obj + "}", True),
    "in_an_array": (lambda obj: "[" + obj + "]", True),
    "nan_literal": (lambda obj: obj[:-1] + (',' if obj != "{}" else "") + '"extra":NaN}', True),
    "too_deep": (lambda obj: obj[:-1] + (',' if obj != "{}" else "") + '"extra":' + "[" * 3000 + "]" * 3000 + "}", True),
    "not_utf8": (lambda obj: obj, False),
    "truncated": (lambda obj: obj[: max(1, len(obj) // 2)], True),
}

VIEW_FIELDS = {"view_id": TEXTS, "certificate_id": TEXTS, "viewed_at": TIMESTAMPS, "referrer": OPTIONAL_TEXTS,
               "by_owner": BOOLEANS}
SCORE_FIELDS = {"learner_id": TEXTS, "skill": TEXTS, "score": NUMBERS, "measured_at": TIMESTAMPS}
RULE_ORDER = ("missing", "bad_timestamp", "out_of_range", "bad_type")
REASON = {"missing": "missing_field", "bad_timestamp": "bad_timestamp", "out_of_range": "out_of_range",
          "bad_type": "bad_type"}


def _line(fields: dict):
    """A strategy of (raw text, utf8_valid, expected reason) for one line of a source with these fields."""
    values = st.fixed_dictionaries({name: st.sampled_from(cases) for name, cases in fields.items()})
    damage = st.one_of(st.none(), st.sampled_from(sorted(DAMAGE)))

    def build(picked, damaged):
        body = ",".join(f'"{name}":{text}' for name, (text, _) in picked.items() if text is not ABSENT)
        raw = "{" + body + "}"
        if damaged is not None:
            make, utf8_valid = DAMAGE[damaged]
            return make(raw), utf8_valid, "malformed_json"
        for rule in RULE_ORDER:  # within a rule, fields in the contract's order (the key order is random)
            for name in fields:
                if picked[name][1] == rule:
                    return raw, True, f"{REASON[rule]}:{name}"
        return raw, True, None

    return st.builds(build, values, damage)


def _validate(spark, source: str, lines: list[tuple[str, bool, str | None]]):
    rows = [(DAY, "platform/x/part-00000.jsonl.gz", n, raw, utf8) for n, (raw, utf8, _) in enumerate(lines, start=1)]
    validated = validate_export_lines(spark.createDataFrame(rows, EXPORT_LINE_SCHEMA), EXPORT_SOURCES[source])
    # Typed columns of quarantined lines may hold years Python cannot represent (+10000): collect them as text.
    return {row.line_number: row for row in validated.selectExpr(
        "line_number", "reason", *(f"CASE WHEN reason IS NULL THEN string({f}) END AS {f}"
                                   for f in EXPORT_SOURCES[source].schema.fieldNames())).collect()}


FUZZ_SETTINGS = settings(max_examples=5, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                HealthCheck.data_too_large])


@FUZZ_SETTINGS
@given(st.lists(_line(VIEW_FIELDS), min_size=20, max_size=40))
def test_certificate_view_lines_get_the_planted_reason(spark, lines):
    got = _validate(spark, "certificate_views", lines)
    assert len(got) == len(lines)  # every line is accounted for once
    for number, (raw, _, reason) in enumerate(lines, start=1):
        assert got[number].reason == reason, raw
        if reason is None:
            parsed = json.loads(raw)
            assert got[number].by_owner == str(parsed["by_owner"]).lower(), raw
            assert got[number].view_id == (parsed["view_id"] if isinstance(parsed["view_id"], str)
                                           else raw.split('"view_id":')[1].split(",")[0]), raw


@FUZZ_SETTINGS
@given(st.lists(_line(SCORE_FIELDS), min_size=20, max_size=40))
def test_skill_score_lines_get_the_planted_reason(spark, lines):
    got = _validate(spark, "skill_scores", lines)
    assert len(got) == len(lines)
    for number, (raw, _, reason) in enumerate(lines, start=1):
        assert got[number].reason == reason, raw
        if reason is None:
            parsed = json.loads(raw)
            assert float(got[number].score) == float(parsed["score"]), raw
            when = datetime.fromisoformat(got[number].measured_at)
            assert datetime(2000, 1, 1) <= when < datetime(2022, 11, 2), raw


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), compressed=st.booleans())
def test_a_files_arrow_batch_holds_each_lines_text_validity_and_kind_bits(data, compressed):
    """The reader builds a file's batch column by column (Arrow's UTF-8 check, one lossy decoding of all lines):
    row for row, it must hold what reading the file line by line gives, and the kind bits of each line's text."""
    from pyspark.sql.pandas.types import to_arrow_schema

    from jobs.ingest import _file_batch, _kind_bits_of, lines_schema

    source = EXPORT_SOURCES[data.draw(st.sampled_from(sorted(EXPORT_SOURCES)))]
    lines = data.draw(st.lists(st.one_of(_export_like_lines(source), st.sampled_from([b"", b" ", b"\r", b"\t \x0c"])),
                               max_size=12))
    ending = data.draw(st.sampled_from([b"\n", b"\r\n"]))
    payload = b"".join(line + ending for line in lines)
    arrow_schema = to_arrow_schema(lines_schema(EXPORT_LINE_SCHEMA, source))
    with tempfile.TemporaryDirectory() as landing:
        path = Path(landing) / "part-00000.jsonl.gz"
        path.write_bytes(gzip.compress(payload, mtime=0) if compressed else payload)
        task = (DAY, path.name, str(path), landing)
        batch = _file_batch(task, arrow_schema, _kind_bits_of(source))
        expected = [(*row, None if row[2] == UNREADABLE_FILE_LINE else _kind_bits_by_field_kinds(row[3], source))
                    for row in _rows_line_by_line(task)]
    assert batch.schema == arrow_schema
    assert [tuple(row.values()) for row in batch.to_pylist()] == expected
