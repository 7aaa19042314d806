"""CertLogic engine and EU business rules: the official test suites, the real EU rules, hostile input.

Corpora are referenced in place under ../shared/corpora and the tests needing them skip when absent.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.policy import eu_rules
from kiosk.policy.certlogic import (
    MAX_DEPTH,
    CertLogicError,
    DateTime,
    dcc_date_of_birth,
    evaluate,
    parse_date_time,
    plus_time,
    validate,
    validation_issues,
)

CORPORA = Path(__file__).resolve().parents[1].parent / "shared/corpora"
CERTLOGIC = CORPORA / "certlogic"
EU_RULES = CORPORA / "eu-rules"
DGC_TESTDATA = CORPORA / "dgc-testdata"


def _needs(path: Path) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not path.exists(), reason=f"outside corpus not found at {path} (see shared/corpora/README.md)"
    )


def _canonical(value: Any) -> str:
    """JSON text: tells true from 1 and 3 from 3.0, which == does not."""
    return json.dumps(value, sort_keys=True)


# --------------------------------------------------------------------------------------------------
# Official evaluator test suite

# Assertions marked "directive": "skip" in the suite itself (10 in patched-reduce.json, 4 in
# ins-with-nulls.json) encode two proposed extensions that contradict the specification and the
# reference implementation: the reduce lambda seeing the outer data as "data", and `in` on a null
# right-hand side giving false (the specification says "operating on a non-array <operand 2> is
# considered an error"). They are run with those opt-in extensions switched on, and, separately,
# checked to behave per specification by default.
EXTENSIONS = {"reduce_with_data": True, "null_safe_in": True}


def _suite_assertions() -> list[Any]:
    if not (CERTLOGIC / "testSuite").is_dir():
        return []
    params = []
    for path in sorted((CERTLOGIC / "testSuite").glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        for case in suite["cases"]:
            for index, assertion in enumerate(case["assertions"]):
                skipped = "skip" in (
                    suite.get("directive"),
                    case.get("directive"),
                    assertion.get("directive"),
                )
                expr = assertion.get("certLogicExpression", case.get("certLogicExpression"))
                params.append(
                    pytest.param(
                        expr,
                        assertion["data"],
                        assertion["expected"],
                        skipped,
                        id=f"{path.stem}:{case['name']}#{index + 1}",
                    )
                )
    return params


SUITE = _suite_assertions()


@_needs(CERTLOGIC / "testSuite")
def test_official_suite_is_complete() -> None:
    assert len(SUITE) == 232
    assert sum(1 for param in SUITE if param.values[3]) == 14  # marked "skip" by the suite


@_needs(CERTLOGIC / "testSuite")
@pytest.mark.parametrize(("expr", "data", "expected", "skipped"), SUITE)
def test_official_suite(expr: Any, data: Any, expected: Any, skipped: bool) -> None:
    options = EXTENSIONS if skipped else {}
    assert _canonical(evaluate(expr, data, **options)) == _canonical(expected)


@_needs(CERTLOGIC / "testSuite")
@pytest.mark.parametrize(("expr", "data", "expected", "skipped"), [p for p in SUITE if p.values[3]])
def test_suite_skipped_assertions_follow_the_spec_by_default(
    expr: Any, data: Any, expected: Any, skipped: bool
) -> None:
    if "reduce" in expr:
        # Reference behaviour: the lambda context is {current, accumulator} only, so data.z is null.
        x = (data or {}).get("x") or []
        assert evaluate(expr, data) == sum(1 for item in x if item is None)
    else:
        try:
            result = evaluate(expr, data)
        except CertLogicError as error:
            assert "must be an array" in str(error)
        else:  # the right-hand side was an array after all
            assert result == expected


# --------------------------------------------------------------------------------------------------
# Official validation test suite


def _validation_cases() -> list[Any]:
    folder = CERTLOGIC / "validation-testSuite"
    if not folder.is_dir():
        return []
    params = []
    for path in sorted(folder.glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        for index, case in enumerate(suite["cases"]):
            params.append(
                pytest.param(case["certLogicExpression"], case["issues"], id=f"{path.stem}#{index + 1}")
            )
    return params


VALIDATION_SUITE = _validation_cases()


@_needs(CERTLOGIC / "validation-testSuite")
def test_validation_suite_is_complete() -> None:
    assert len(VALIDATION_SUITE) == 23


@_needs(CERTLOGIC / "validation-testSuite")
@pytest.mark.parametrize(("expr", "issues"), VALIDATION_SUITE)
def test_validation_suite(expr: Any, issues: list[dict[str, Any]]) -> None:
    got = [(issue.expr, issue.message) for issue in validation_issues(expr)]
    assert _canonical(got) == _canonical([(issue["expr"], issue["message"]) for issue in issues])
    assert validate(expr) == [issue["message"] for issue in issues]
    if issues:  # whatever the validator rejects, the evaluator rejects too
        with pytest.raises(CertLogicError):
            evaluate(expr, {})


# --------------------------------------------------------------------------------------------------
# Semantics pinned down beyond the suite (specification text and reference implementation)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2021", "2021-12-31T00:00:00.000Z"),
        ("2020-02", "2020-02-29T00:00:00.000Z"),
        ("2021-02", "2021-02-28T00:00:00.000Z"),
        ("2021-06-01", "2021-06-01T00:00:00.000Z"),
        ("2021-06-01T12:34:56", "2021-06-01T12:34:56.000Z"),
        ("2021-06-01T12:34:56Z", "2021-06-01T12:34:56.000Z"),
        ("2021-06-01T12:34:56+2", "2021-06-01T10:34:56.000Z"),
        ("2021-06-01T12:34:56-02", "2021-06-01T14:34:56.000Z"),
        ("2021-06-01T12:34:56+130", "2021-06-01T11:04:56.000Z"),
        ("2021-06-01T12:34:56+0130", "2021-06-01T11:04:56.000Z"),
        ("2021-06-01T12:34:56+1:30", "2021-06-01T11:04:56.000Z"),
        ("2021-06-01T12:34:56+01:30", "2021-06-01T11:04:56.000Z"),
        ("2021-06-01T12:34:56.1", "2021-06-01T12:34:56.100Z"),
        ("2021-06-01T12:34:56.123456789Z", "2021-06-01T12:34:56.123Z"),  # truncated, not rounded
        ("2021-06-01T12:34:56.9999+00:00", "2021-06-01T12:34:56.999Z"),
        ("2021-06-01T00:00:00.000-23:59", "2021-06-01T23:59:00.000Z"),
    ],
)
def test_date_time_formats(text: str, iso: str) -> None:
    assert parse_date_time(text).isoformat() == iso
    assert evaluate({"plusTime": [{"var": "d"}, 0, "day"]}, {"d": text}) == parse_date_time(text)


@pytest.mark.parametrize(
    "text",
    ["", "21-06-01", "2021-6-01", "2021-06-01 12:00:00", "2021-06-01T12:00", "2021-06-01T12:00:00z",
     "2021-06-01T12:00:00+123:00", "２０２１-06-01", " 2021-06-01", "2021-06-01T12:00:00.Z"],
)  # fmt: skip
def test_date_time_formats_rejected(text: str) -> None:
    with pytest.raises(CertLogicError, match="not an allowed date or date-time format"):
        parse_date_time(text)


@pytest.mark.parametrize(
    "text", ["2021-09-99", "2022-13", "2021-02-29", "1963-00", "2021-06-01T25:00:00Z", "2021-06-01T12:60:00Z"]
)
def test_impossible_dates_raise_instead_of_undefined_behaviour(text: str) -> None:
    with pytest.raises(CertLogicError, match="not a valid"):
        parse_date_time(text)


@pytest.mark.parametrize(
    ("date", "amount", "unit", "iso"),
    [
        ("2020-02-29", 1, "day", "2020-03-01T00:00:00.000Z"),  # the specification's leap-day table
        ("2020-02-29", 1, "month", "2020-03-29T00:00:00.000Z"),
        ("2020-02-29", 1, "year", "2021-03-01T00:00:00.000Z"),
        ("2020-02-29", 4, "year", "2024-02-29T00:00:00.000Z"),
        ("2021-01-31", 1, "month", "2021-03-03T00:00:00.000Z"),  # JavaScript setUTCMonth overflow
        ("2021-03-31", -1, "month", "2021-03-03T00:00:00.000Z"),
        ("2021-12-15", 1, "month", "2022-01-15T00:00:00.000Z"),
        ("2021-01-15", -13, "month", "2019-12-15T00:00:00.000Z"),
        ("2021-03-28T00:30:00+01:00", 24, "hour", "2021-03-28T23:30:00.000Z"),  # no DST
        ("2021-06-01T23:00:00-02:00", 0, "day", "2021-06-02T01:00:00.000Z"),
        ("2021-06-01T23:00:00-02:00", 1, "month", "2021-07-02T01:00:00.000Z"),  # UTC fields
        ("2004-01", 18, "year", "2022-01-31T00:00:00.000Z"),
        ("2021-06-02T16:00:00Z", -180, "day", "2020-12-04T16:00:00.000Z"),
    ],
)
def test_plus_time(date: str, amount: int, unit: str, iso: str) -> None:
    assert evaluate({"plusTime": [date, amount, unit]}, None).isoformat() == iso


def test_plus_time_beyond_javascript_range_is_invalid_date() -> None:
    far = evaluate({"plusTime": ["2021-01-01", 300_000, "year"]}, None)
    assert far == DateTime(None) and far.isoformat() == "Invalid Date"
    assert evaluate({"plusTime": ["2021-01-01", 10**30, "hour"]}, None) == DateTime(None)
    assert evaluate({"plusTime": ["2021-01-01", 270_000, "year"]}, None).valid
    near = {"plusTime": ["2021-01-01", 0, "day"]}
    for operator in ("after", "before", "not-after", "not-before"):
        assert evaluate({operator: [{"plusTime": ["2021-01-01", 10**9, "year"]}, near]}, None) is False
    assert plus_time(DateTime(None), 1, "day") == DateTime(None)


def test_dcc_date_of_birth() -> None:
    assert dcc_date_of_birth("2004").isoformat() == "2004-12-31T00:00:00.000Z"
    assert dcc_date_of_birth("2004-02").isoformat() == "2004-02-29T00:00:00.000Z"
    assert dcc_date_of_birth("2004-02-01").isoformat() == "2004-02-01T00:00:00.000Z"
    for bad in ("", "04", "2004-1", "2004-01-01T00:00:00", "1978-01-26T00:00:00"):
        with pytest.raises(CertLogicError):
            evaluate({"dccDateOfBirth": [{"var": "dob"}]}, {"dob": bad})
    with pytest.raises(CertLogicError, match="must be a string"):
        evaluate({"dccDateOfBirth": [{"var": "dob"}]}, {})


@pytest.mark.parametrize(
    ("expr", "data", "expected"),
    [
        ({"===": [1, True]}, None, False),
        ({"===": [0, False]}, None, False),
        ({"===": [1, 1.0]}, None, True),  # one JSON number type
        ({"===": [[1, "a"], [1, "a"]]}, None, True),  # structural for arrays/objects
        ({"===": [{"var": "a"}, {"var": "b"}]}, {"a": {"x": [1]}, "b": {"x": [1]}}, True),
        ({"===": [{"var": "a"}, {"var": "b"}]}, {"a": {"x": [1]}, "b": {"x": [True]}}, False),
        ({"===": [{"var": "a"}, {"var": "b"}]}, {"a": None}, True),
        (
            {"===": [{"plusTime": ["2021-01-01", 24, "hour"]}, {"plusTime": ["2021-01-02", 0, "day"]}]},
            None,
            True,
        ),
        ({"in": [1, [True, "1", 1.0]]}, None, True),
        ({"in": [True, [1]]}, None, False),
        ({"var": "a.1"}, {"a": "xyz"}, None),  # strings have no properties
        ({"var": "a.-1"}, {"a": [1, 2]}, None),
        ({"var": "a.01"}, {"a": [1, 2]}, 2),
        ({"var": "a.1"}, {"a": {"1": "one"}}, "one"),
        ({"var": "a.b"}, {"a": 5}, None),
        ({"+": [2**53, 2**53]}, None, float(2**54)),  # beyond 2**53, a double as in JavaScript
        ({"extractFromUVCI": ["URN:UVCI:01:AT:X#Y", 2.0]}, None, "X"),
        ({"!": [{"var": "x"}]}, {"x": {}}, True),
    ],
)
def test_semantics(expr: Any, data: Any, expected: Any) -> None:
    assert _canonical(evaluate(expr, data)) == _canonical(expected)


@pytest.mark.parametrize(
    ("expr", "data", "message"),
    [
        ({"and": [True, {"plusTime": ["2021-01-01", 0, "day"]}]}, None, "truthy or falsy"),  # last one too
        ({"if": [{"plusTime": ["2021-01-01", 0, "day"]}, 1, 2]}, None, "neither truthy, nor falsy"),
        ({"!": [{"plusTime": ["2021-01-01", 0, "day"]}]}, None, "neither truthy, nor falsy"),
        ({"if": [True, 1]}, None, "exactly 3"),
        ({"if": [True, 1, 2, 3]}, None, "exactly 3"),
        ({"!": [True, False]}, None, "exactly 1 operand"),
        ({"and": [True]}, None, "at least 2"),
        ({"===": [1, 1, 1]}, None, "must have 2 operands"),
        ({"<": [1]}, None, "2 or 3 operands"),
        ({"<": [1, 2, 3, 4]}, None, "2 or 3 operands"),
        ({"<": [1, "2"]}, None, "must be integers"),
        ({"<": [1, {"var": "x"}]}, {"x": 2.5}, "must be integers"),
        ({"after": [1, 2]}, None, "must be date-times"),
        ({"+": [1, "2"]}, None, "must both be integers"),
        ({"in": ["a", "abc"]}, None, "must be an array"),
        ({"in": ["a", {"var": "missing"}]}, {}, "must be an array"),
        ({"plusTime": ["2021-01-01", 1, "week"]}, None, "unit"),
        ({"plusTime": ["2021-01-01", {"var": "n"}, "day"]}, {"n": 1}, "amount"),
        ({"plusTime": [{"var": "d"}, 1, "day"]}, {"d": None}, "must be a string"),
        ({"reduce": [{"var": "x"}, 0, 0]}, {"x": "abc"}, "non-null non-array"),
        ({"extractFromUVCI": [5, 1]}, None, "string or null"),
        ({"extractFromUVCI": ["a", {"var": "i"}]}, {"i": 1}, "index"),
        ({"var": 0}, None, "var"),
        ({"var": "a..b"}, None, "valid format"),
        ({"!==": [1, 2]}, None, "unrecognised operator"),
        ({"or": [True, False]}, None, "unrecognised operator"),
        ({"var": "x", "if": []}, None, "exactly one key"),
        ({}, None, "exactly one key"),
        ({"if": "x"}, None, "not of the form"),
        (None, None, "invalid CertLogic expression"),
        (3.14, None, "non-integer"),
        ([1, None], None, "invalid CertLogic expression"),
    ],
)
def test_errors(expr: Any, data: Any, message: str) -> None:
    with pytest.raises(CertLogicError, match=message):
        evaluate(expr, data)


def test_operands_are_evaluated_lazily() -> None:
    boom = {"plusTime": ["not a date", 0, "day"]}
    assert evaluate({"if": [True, 1, boom]}, None) == 1
    assert evaluate({"if": [False, boom, 2]}, None) == 2
    assert evaluate({"and": [0, boom]}, None) == 0
    with pytest.raises(CertLogicError):
        evaluate({"and": [1, boom]}, None)


# --------------------------------------------------------------------------------------------------
# Hostile input: nesting, work, and random expressions


def _nest(depth: int, wrap: Any) -> Any:
    expr: Any = True
    for _ in range(depth):
        expr = wrap(expr)
    return expr


@pytest.mark.parametrize(
    "wrap",
    [
        lambda e: {"!": [e]},
        lambda e: [e],
        lambda e: {"if": [e, 1, 0]},
        lambda e: {"and": [True, e]},
        lambda e: {"reduce": [[1], e, 0]},
        lambda e: {"===": [e, 1]},
    ],
    ids=["not", "array", "if", "and", "reduce", "equals"],
)
def test_deep_nesting_is_refused(wrap: Any) -> None:
    expr = _nest(10_000, wrap)
    with pytest.raises(CertLogicError, match="nested too deeply"):
        evaluate(expr, {})
    messages = validate(expr)
    assert any("nested too deeply" in message for message in messages)
    shallow = _nest(MAX_DEPTH // 2 - 2, wrap)
    evaluate(shallow, {})  # well within the limit: evaluates (or fails on types), does not blow the stack
    assert not any("nested too deeply" in message for message in validate(shallow))


def test_deep_data_does_not_blow_the_stack() -> None:
    deep_a, deep_b = _nest(100_000, lambda e: [e]), _nest(100_000, lambda e: {"k": e})
    assert evaluate({"===": [{"var": "a"}, {"var": "a"}]}, {"a": deep_a}) is True
    assert evaluate({"===": [{"var": "a"}, {"var": "b"}]}, {"a": deep_a, "b": deep_b}) is False
    assert evaluate({"in": [{"var": "a"}, [{"var": "a"}]]}, {"a": deep_b}) is True


def test_runaway_work_is_cut_off() -> None:
    started = time.perf_counter()
    nested_reduce = {"reduce": [{"var": "x"}, {"reduce": [{"var": "current"}, {"var": "accumulator"}, 0]}, 0]}
    row = list(range(2_000))
    with pytest.raises(CertLogicError, match="budget"):
        evaluate(nested_reduce, {"x": [row] * 2_000})
    # A lambda doubling shared structure: 2**60 leaves if compared naively.
    doubling = {"reduce": [{"var": "x"}, [{"var": "accumulator"}, {"var": "accumulator"}], 0]}
    with pytest.raises(CertLogicError, match="budget"):
        evaluate({"===": [doubling, doubling]}, {"x": list(range(60))})
    adding = {"reduce": [{"var": "x"}, {"+": [{"var": "accumulator"}, {"var": "accumulator"}]}, 1]}
    with pytest.raises(CertLogicError, match="must both be integers"):  # 2**n overflows to Infinity
        evaluate(adding, {"x": list(range(2_000))})
    with pytest.raises(CertLogicError, match="budget"):
        evaluate({"in": [-1, {"var": "x"}]}, {"x": [0] * 1_100_000})
    assert evaluate({"in": [-1, {"var": "x"}]}, {"x": [0] * 200_000}) is False
    assert time.perf_counter() - started < 20


def test_max_steps_is_adjustable() -> None:
    with pytest.raises(CertLogicError, match="budget"):
        evaluate([1, 2, 3], None, max_steps=3)
    assert evaluate([1, 2, 3], None, max_steps=4) == [1, 2, 3]


# Profile for this module only: reproducible, no example database, generous per-example deadline.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=dt.timedelta(seconds=2),
    max_examples=400,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

OPERATORS = [
    "var", "if", "===", "and", "<", ">", "<=", ">=", "in", "+", "!", "after", "before", "not-after",
    "not-before", "plusTime", "reduce", "extractFromUVCI", "dccDateOfBirth", "or", "!==", "",
]  # fmt: skip
DATE_LIKE = st.sampled_from(
    ["2021", "2021-02", "2021-02-29", "2020-02-29", "2021-06-01T12:00:00", "2021-06-01T12:00:00.5+2",
     "2021-13-01", "URN:UVCI:01:AT:ABC#D", "year", "month", "day", "hour", "current", "accumulator", "x.0", ""]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    DATE_LIKE,
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4) | DATE_LIKE, inner, max_size=4)
    ),
    max_leaves=25,
)
EXPRESSIONS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.builds(lambda op, args: {op: args}, st.sampled_from(OPERATORS), st.lists(inner, max_size=4)),
        st.builds(lambda op, arg: {op: arg}, st.sampled_from(OPERATORS), inner),
        st.builds(lambda path: {"var": path}, DATE_LIKE | st.text(alphabet="ab.01", max_size=6)),
        st.builds(
            lambda d, n, u: {"plusTime": [d, n, u]},
            inner,
            st.integers(-(10**13), 10**13) | SCALARS,
            st.sampled_from(["year", "month", "day", "hour", "week"]),
        ),
        st.builds(lambda o, lam, i: {"reduce": [o, lam, i]}, inner, inner, inner),
        st.dictionaries(st.sampled_from(OPERATORS), inner, max_size=3),
    ),
    max_leaves=40,
)


def _evaluates_or_refuses(expr: Any, data: Any) -> None:
    started = time.perf_counter()
    try:
        result = evaluate(expr, data)
    except CertLogicError as error:
        assert str(error)
    else:
        assert result is None or isinstance(result, bool | int | float | str | list | dict | DateTime)
    assert time.perf_counter() - started < 1.0


@FUZZ
@given(EXPRESSIONS, JSON)
def test_fuzz_evaluate_returns_a_value_or_certlogic_error(expr: Any, data: Any) -> None:
    _evaluates_or_refuses(expr, data)
    messages = validate(expr)
    assert isinstance(messages, list) and all(isinstance(message, str) for message in messages)


@FUZZ
@given(JSON, JSON)
def test_fuzz_any_json_as_expression(expr: Any, data: Any) -> None:
    _evaluates_or_refuses(expr, data)
    validate(expr)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@FUZZ
@given(
    st.datetimes(
        min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 12, 31), timezones=st.just(dt.UTC)
    ),
    st.integers(-100_000, 100_000),
)
def test_fuzz_plus_time_days_and_hours_match_python(moment: dt.datetime, amount: int) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    text = moment.isoformat().replace("+00:00", "Z")
    for unit, delta in (("day", dt.timedelta(days=amount)), ("hour", dt.timedelta(hours=amount))):
        expected = (moment + delta - EPOCH) // dt.timedelta(milliseconds=1)
        assert evaluate({"plusTime": [text, amount, unit]}, None) == DateTime(expected)


# --------------------------------------------------------------------------------------------------
# EU rules


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    if not (EU_RULES / "eu-rules.json").exists():
        pytest.skip(f"outside corpus not found at {EU_RULES}")
    return eu_rules.load_rules(EU_RULES / "eu-rules.json")


@pytest.fixture(scope="module")
def value_sets() -> dict[str, list[str]]:
    if not (EU_RULES / "eu-value-sets.json").exists():
        pytest.skip(f"outside corpus not found at {EU_RULES}")
    return eu_rules.load_value_sets(EU_RULES / "eu-value-sets.json")


def test_all_eu_rules_validate(rules: list[dict[str, Any]]) -> None:
    invalid = {rule["Identifier"]: validate(rule["Logic"]) for rule in rules if validate(rule["Logic"])}
    assert len(rules) == 271
    assert invalid == {}


@_needs(EU_RULES / "domestic-rules.json")
def test_domestic_rules_validate() -> None:
    domestic = eu_rules.load_rules(EU_RULES / "domestic-rules.json")
    assert len(domestic) == 15
    assert all(validate(rule["Logic"]) == [] for rule in domestic)


def test_value_sets_shape(value_sets: dict[str, list[str]]) -> None:
    assert "260415000" in value_sets["covid-19-lab-result"]
    assert "EU/1/20/1528" in value_sets["vaccines-covid-19-names"]
    assert all(isinstance(code, str) for codes in value_sets.values() for code in codes)


def _payloads() -> list[tuple[str, dict[str, Any], dt.datetime]]:
    """(name, DCC JSON, validation clock) of every raw test vector with both; naive clocks read as UTC."""
    found = []
    for path in sorted(DGC_TESTDATA.glob("*/2DCode/raw/*.json")):
        try:
            vector = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        payload, clock = vector.get("JSON"), (vector.get("TESTCTX") or {}).get("VALIDATIONCLOCK")
        if not isinstance(payload, dict) or not clock:
            continue
        moment = dt.datetime.fromisoformat(clock.replace("Z", "+00:00"))
        found.append(
            (str(path.relative_to(DGC_TESTDATA)), payload, moment.replace(tzinfo=moment.tzinfo or dt.UTC))
        )
    return found


@pytest.fixture(scope="module")
def payloads() -> dict[str, tuple[dict[str, Any], dt.datetime]]:
    if not DGC_TESTDATA.is_dir():
        pytest.skip(f"outside corpus not found at {DGC_TESTDATA}")
    return {name: (payload, clock) for name, payload, clock in _payloads()}


def _dob_is_allowed(payload: dict[str, Any]) -> bool:
    try:
        dcc_date_of_birth(str(payload.get("dob")))
    except CertLogicError:
        return False
    return True


def _run(rules: list, payload: dict, clock: dt.datetime, value_sets: dict, country: str) -> list:
    return eu_rules.run_rules(
        rules,
        payload,
        validation_clock=clock,
        value_sets=value_sets,
        country_code=country,
        iat=clock,
        exp=clock,
    )


def test_applicable_rules_at_validation_clocks_run_without_errors(
    rules: list, value_sets: dict, payloads: dict
) -> None:
    countries = sorted({rule["Country"] for rule in rules})
    evaluated, outcomes = 0, Counter()
    for name, (payload, clock) in payloads.items():
        cert_type = eu_rules.certificate_type(payload)
        if cert_type is None:
            continue
        for country in countries:
            selected = eu_rules.applicable_rules(rules, country, cert_type, clock)
            for result in _run(selected, payload, clock, value_sets, country):
                assert result.error is None, (name, country, result)
                evaluated += 1
                outcomes[result.passed] += 1
    assert evaluated > 1000 and outcomes[True] > outcomes[False] > 50


def test_every_eu_rule_evaluates_on_every_test_vector(rules: list, value_sets: dict, payloads: dict) -> None:
    """All 271 rules on all payloads of their certificate type, whatever their validity window."""
    evaluated, errors, clean_rules = 0, [], set()
    for name, (payload, clock) in payloads.items():
        cert_type = eu_rules.certificate_type(payload)
        if cert_type is None:
            continue
        selected = [rule for rule in rules if rule["CertificateType"] in ("General", cert_type)]
        for rule, result in zip(selected, _run(selected, payload, clock, value_sets, "XX"), strict=True):
            evaluated += 1
            if result.error is None:
                clean_rules.add(rule["Identifier"])
                continue
            errors.append((name, rule["Identifier"], result.error))
            # Only DCCs whose dob is in no CertLogic date format ("1963-00" in NL vectors, a date-time in
            # BG ones) make rules fail, and only rules that read the dob.
            assert not _dob_is_allowed(payload), (name, result)
            assert "payload.dob" in json.dumps(rule["Logic"]), (name, result)
            assert result.passed is None
    assert evaluated > 40_000
    assert len(clean_rules) == 271  # every rule evaluated cleanly on some vector
    assert {name.split("/")[0] for name, _, _ in errors} <= {"NL", "BG"}


@pytest.mark.parametrize("country", ["FR", "IE", "LT", "LV", "PL", "SI", "UA"])
def test_fully_vaccinated_passes_acceptance_rules(
    rules: list, value_sets: dict, payloads: dict, country: str
) -> None:
    payload, clock = payloads["LT/2DCode/raw/1.json"]  # Comirnaty 3/3, validated 2022-01-18
    assert payload["v"][0]["dn"] == payload["v"][0]["sd"] == 3
    selected = eu_rules.applicable_rules(rules, country, "Vaccination", clock)
    assert selected
    assert all(result.passed for result in _run(selected, payload, clock, value_sets, country))


@pytest.mark.parametrize("country", ["IE", "LT", "SI"])
def test_two_dose_course_passes_in_2021(rules: list, value_sets: dict, payloads: dict, country: str) -> None:
    payload, clock = payloads["BE/2DCode/raw/1.json"]  # Comirnaty 2/2 on 2021-07-03, validated 2021-08-19
    selected = eu_rules.applicable_rules(rules, country, "Vaccination", clock)
    assert selected and all(result.passed for result in _run(selected, payload, clock, value_sets, country))


@pytest.mark.parametrize(
    ("country", "rule"), [("IE", "VR-IE-0002"), ("LT", "VR-LT-0002"), ("PL", "VR-PL-0001")]
)
def test_incomplete_vaccination_fails_the_dose_rule(
    rules: list, value_sets: dict, payloads: dict, country: str, rule: str
) -> None:
    payload, clock = payloads["ES/2DCode/raw/403.json"]  # dose 1 of 2, validated 2021-12-10
    results = {r.identifier: r for r in _run(eu_rules.applicable_rules(rules, country, "Vaccination", clock),
                                             payload, clock, value_sets, country)}  # fmt: skip
    assert results[rule].passed is False
    assert [identifier for identifier, r in results.items() if not r.passed] == [rule]


def test_recovery_not_yet_valid_fails(rules: list, value_sets: dict, payloads: dict) -> None:
    payload, clock = payloads["BE/2DCode/raw/2.json"]  # df 2021-08-28, validated 2021-08-19
    results = _run(
        eu_rules.applicable_rules(rules, "IE", "Recovery", clock), payload, clock, value_sets, "IE"
    )
    assert {r.identifier: r.passed for r in results}["RR-IE-0001"] is False


def test_detected_test_result_fails_the_negative_result_rules(
    rules: list, value_sets: dict, payloads: dict
) -> None:
    by_id = {rule["Identifier"]: rule for rule in rules}
    negative_rules = [
        by_id[i] for i in ("TR-IE-0004", "TR-LT-0005", "TR-LU-0004", "TR-PL-0002", "TR-UA-0004")
    ]
    detected = {n: pc for n, pc in payloads.items() if (pc[0].get("t") or [{}])[0].get("tr") == "260373001"}
    not_detected = {
        n: pc for n, pc in payloads.items() if (pc[0].get("t") or [{}])[0].get("tr") == "260415000"
    }
    assert len(detected) >= 5 and len(not_detected) >= 20
    for group, expected in ((detected, False), (not_detected, True)):
        for name, (payload, clock) in group.items():
            for result in _run(negative_rules, payload, clock, value_sets, "DE"):
                assert result.passed is expected, (name, result)


def test_old_pcr_sample_fails_in_time_rules(rules: list, value_sets: dict, payloads: dict) -> None:
    payload, clock = payloads["ES/2DCode/raw/402.json"]  # PCR sampled 2021-04-21, validated 2021-12-10
    results = {r.identifier: r.passed for r in _run(eu_rules.applicable_rules(rules, "LT", "Test", clock),
                                                    payload, clock, value_sets, "LT")}  # fmt: skip
    assert results["TR-LT-0003"] is False
    assert sum(1 for passed in results.values() if passed) == len(results) - 1


def test_unparsable_dob_is_reported_not_raised(rules: list, value_sets: dict, payloads: dict) -> None:
    payload, clock = payloads["NL/2DCode/raw/075-NL-vaccination.json"]  # dob "1963-00"
    minors = [rule for rule in rules if rule["Identifier"] == "VR-LT-0005"]
    (result,) = _run(minors, payload, clock, value_sets, "LT")
    assert result.passed is None and "1963-00" in result.error


# --------------------------------------------------------------------------------------------------
# Rule selection and the external parameters (synthetic rules: no corpus needed)


def _rule(identifier: str, **fields: Any) -> dict[str, Any]:
    rule = {
        "Identifier": identifier,
        "Version": "1.0.0",
        "Type": "Acceptance",
        "CertificateType": "Vaccination",
        "Country": "AT",
        "ValidFrom": "2022-01-01T00:00:00Z",
        "ValidTo": "2030-01-01T00:00:00Z",
        "SchemaVersion": "1.0.0",
        "Engine": "CERTLOGIC",
        "EngineVersion": "1.0.0",
        "Description": [{"lang": "de", "desc": "Beschreibung"}, {"lang": "en", "desc": f"rule {identifier}"}],
        "Logic": True,
    }
    rule.update(fields)
    return rule


AT = dt.datetime(2022, 6, 1, tzinfo=dt.UTC)


def test_applicable_rules_selection() -> None:
    rules = [
        _rule("VR-AT-0001"),
        _rule("VR-AT-0001", Version="1.0.10", Logic=False),
        _rule("VR-AT-0001", Version="1.0.9"),
        _rule("GR-AT-0001", CertificateType="General"),
        _rule("TR-AT-0001", CertificateType="Test"),
        _rule("VR-DE-0001", Country="DE"),
        _rule("VR-AT-0002", ValidFrom="2022-06-01T00:00:01Z"),
        _rule("VR-AT-0003", ValidTo="2022-06-01T00:00:00Z"),  # inclusive bounds
        _rule("IR-AT-0001", Type="Invalidation", CertificateType="General"),
        _rule("VR-AT-0004", Region="W"),
    ]
    selected = eu_rules.applicable_rules(rules, "at", "Vaccination", AT)
    assert [(r["Identifier"], r["Version"]) for r in selected] == [
        ("GR-AT-0001", "1.0.0"),
        ("VR-AT-0001", "1.0.10"),
        ("VR-AT-0003", "1.0.0"),
        ("VR-AT-0004", "1.0.0"),
    ]
    assert [
        r["Identifier"] for r in eu_rules.applicable_rules(rules, "AT", "Vaccination", AT, region="T")
    ] == [
        "GR-AT-0001",
        "VR-AT-0001",
        "VR-AT-0003",
    ]
    invalidation = eu_rules.applicable_rules(rules, "AT", "Test", AT, rule_type="Invalidation")
    assert [r["Identifier"] for r in invalidation] == ["IR-AT-0001"]
    with pytest.raises(ValueError, match="timezone-aware"):
        eu_rules.applicable_rules(rules, "AT", "Vaccination", AT.replace(tzinfo=None))
    with pytest.raises(ValueError, match="certificate type"):
        eu_rules.applicable_rules(rules, "AT", "vaccination", AT)


def test_run_rules_builds_the_external_parameters_and_reports_errors() -> None:
    payload = {"ver": "1.3.0", "dob": "2000-01-01", "v": [{"mp": "EU/1/20/1528", "dt": "2022-05-01"}]}
    probe = {
        "and": [
            {"===": [{"var": "external.countryCode"}, "AT"]},
            {"in": [{"var": "payload.v.0.mp"}, {"var": "external.valueSets.vaccines-covid-19-names"}]},
            {"===": [{"var": "external.validationClock"}, "2022-06-01T00:00:00Z"]},
            {"===": [{"var": "external.iat"}, "2022-05-02T00:00:00Z"]},
            {"===": [{"var": "external.exp"}, "2023-05-02T00:00:00.250+02:00"]},
            {"not-before": [{"plusTime": [{"var": "external.validationClock"}, 0, "day"]},
                            {"plusTime": [{"var": "payload.v.0.dt"}, 14, "day"]}]},
        ]
    }  # fmt: skip
    rules = [
        _rule("VR-AT-0001", Logic=probe),
        _rule("VR-AT-0002", Logic={"in": ["x", {"var": "external.valueSets.unknown"}]}),
        _rule("VR-AT-0003", Logic={"var": "payload.dob"}),
        _rule("VR-AT-0004", Logic={"===": [{"var": "payload.nope"}, "x"]}, Description=[]),
        _rule("VR-AT-0005", Engine="OTHER"),
        _rule("VR-AT-0006", SchemaVersion="2.0.0"),
        _rule("VR-AT-0007", SchemaVersion="1.4.0"),
    ]
    results = eu_rules.run_rules(
        rules,
        payload,
        validation_clock=AT,
        value_sets={"vaccines-covid-19-names": {"EU/1/20/1528": {"display": "Comirnaty"}}},
        country_code="AT",
        iat=int(dt.datetime(2022, 5, 2, tzinfo=dt.UTC).timestamp()),
        exp=dt.datetime(2023, 5, 2, 0, 0, 0, 250_000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    )
    by_id = {result.identifier: result for result in results}
    assert by_id["VR-AT-0001"] == eu_rules.RuleResult("VR-AT-0001", True, "rule VR-AT-0001")
    assert by_id["VR-AT-0002"].passed is None and "must be an array" in by_id["VR-AT-0002"].error
    assert by_id["VR-AT-0003"].passed is None and "non-boolean" in by_id["VR-AT-0003"].error
    assert by_id["VR-AT-0004"] == eu_rules.RuleResult("VR-AT-0004", False, "")
    assert by_id["VR-AT-0005"].passed is None and "engine" in by_id["VR-AT-0005"].error
    assert by_id["VR-AT-0006"].passed is None and "schema" in by_id["VR-AT-0006"].error
    assert by_id["VR-AT-0007"].passed is False  # a DCC older than the rule's schema fails, as in the EU apps
    with pytest.raises(ValueError, match="timezone-aware"):
        eu_rules.run_rules(rules, payload, validation_clock=AT.replace(tzinfo=None), value_sets={},
                           country_code="AT", iat=0, exp=0)  # fmt: skip


def test_certificate_type() -> None:
    assert eu_rules.certificate_type({"v": [{}]}) == "Vaccination"
    assert eu_rules.certificate_type({"t": [{}], "v": []}) == "Test"
    assert eu_rules.certificate_type({"r": [{}]}) == "Recovery"
    assert eu_rules.certificate_type({"r": [{}], "t": [{}]}) is None
    assert eu_rules.certificate_type({}) is None
