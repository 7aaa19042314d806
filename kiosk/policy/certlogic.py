"""CertLogic, the EU DCC business-rules language: an evaluator and a format validator.

Implements the CertLogic specification 1.3.3 (a JsonLogic subset with date-time operations), with the
TypeScript ``certlogic-js`` as the reference where the specification leaves room. Pure: no I/O, no
global state. Every failure, including hostile input (deep nesting, runaway ``reduce``), surfaces as
`CertLogicError`; evaluation is bounded by a nesting limit and a step budget.

Choices where the specification is silent or says "not reliable" (documented, tested):

* ``===`` and ``in`` compare strictly (no coercion, ``1 !== true``); arrays and objects compare
  structurally, date-times by instant (certlogic-js compares those by reference, certlogic-kotlin by
  value).
* ``var`` indexes arrays with non-negative decimal fragments and objects by key; anything else
  (strings, numbers, date-times) has no properties and gives ``null``.
* ``and`` checks that *every* operand it evaluates is truthy or falsy, the last one included, as the
  specification says (certlogic-js does not check the last one).
* Arity is checked during evaluation as the validator checks it (certlogic-js ignores surplus operands
  of ``if``, ``!``, ``plusTime``...).
* A date-time outside JavaScript's range (±8.64e15 ms) is JavaScript's "Invalid Date": every
  comparison with it is false. A string that matches an allowed format but is no calendar date
  (``2021-02-30``, a DCC dob ``1963-00``) raises: the specification leaves it undefined.
* A sum beyond 2**53 becomes a (possibly infinite) double, as in JavaScript, which keeps ``+`` cheap.

Two extensions of the test suite's skipped ("patched") assertions are off by default because they
depart from the specification/reference: ``reduce_with_data`` (the reduce lambda also sees the outer
data context as ``data``) and ``null_safe_in`` (``in`` with a ``null`` right-hand side is false, not
an error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "MAX_DEPTH",
    "MAX_STEPS",
    "SPEC_VERSION",
    "CertLogicError",
    "DateTime",
    "Issue",
    "dcc_date_of_birth",
    "evaluate",
    "parse_date_time",
    "plus_time",
    "validate",
    "validation_issues",
]

SPEC_VERSION = "1.3.3"
MAX_DEPTH = 200  # nesting levels of expression objects/arrays (the EU rules need about 25)
MAX_STEPS = 1_000_000  # evaluation steps (nodes, reduce iterations, equality comparisons) per call

TIME_UNITS = ("year", "month", "day", "hour")
INFIX_OPERATORS = frozenset(
    ("===", "and", ">", "<", ">=", "<=", "in", "+", "after", "before", "not-after", "not-before")
)
_COMPARISONS = frozenset(("<", ">", "<=", ">=", "after", "before", "not-after", "not-before"))
_DATE_COMPARISON = {"after": ">", "before": "<", "not-after": "<=", "not-before": ">="}

_MS_PER_HOUR = 3_600_000
_MS_PER_DAY = 86_400_000
_JS_MAX_TIME = 8_640_000_000_000_000  # ECMAScript TimeClip bound
_JS_SAFE_INTEGER = 2**53
_MAX_AMOUNT = 10**12  # any |amount| beyond this leaves the JavaScript range for every time unit


class CertLogicError(ValueError):
    """An invalid CertLogic expression, an operation applied to the wrong types, or a blown budget."""


# --------------------------------------------------------------------------------------------------
# Date-times


@dataclass(frozen=True, slots=True)
class DateTime:
    """A CertLogic date-time: milliseconds since 1970-01-01T00:00:00Z, or ``None`` for "Invalid Date"."""

    ms: int | None

    @property
    def valid(self) -> bool:
        """False for a date-time that left the JavaScript Date range."""
        return self.ms is not None

    def isoformat(self) -> str:
        """``YYYY-MM-DDThh:mm:ss.sssZ`` (JavaScript's ``toISOString``), or ``"Invalid Date"``."""
        if self.ms is None:
            return "Invalid Date"
        days, tod = divmod(self.ms, _MS_PER_DAY)
        y, m, d = _civil_from_days(days)
        hh, rest = divmod(tod, _MS_PER_HOUR)
        mi, rest = divmod(rest, 60_000)
        ss, ms = divmod(rest, 1000)
        year = f"{y:04d}" if 0 <= y <= 9999 else f"{'+' if y > 0 else '-'}{abs(y):06d}"
        return f"{year}-{m:02d}-{d:02d}T{hh:02d}:{mi:02d}:{ss:02d}.{ms:03d}Z"

    def __str__(self) -> str:
        return self.isoformat()


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    """Inverse of `_days_from_civil`."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def _days_in_month(y: int, m: int) -> int:
    return _days_from_civil(y + m // 12, m % 12 + 1, 1) - _days_from_civil(y, m, 1)


def _clip(ms: int) -> DateTime:
    return DateTime(ms if -_JS_MAX_TIME <= ms <= _JS_MAX_TIME else None)


_DATE_TIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(Z|([+-])([0-9]{1,2}):?([0-9]{2})?)?"
)
_DATE_RE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _date_ms(text: str, y: int, m: int, d: int | None) -> int:
    if not 1 <= m <= 12:
        raise CertLogicError(f"not a valid date: {_shown(text)}")
    last = _days_in_month(y, m)
    if d is None:
        d = last  # the last date consistent with a partial date
    elif not 1 <= d <= last:
        raise CertLogicError(f"not a valid date: {_shown(text)}")
    return _days_from_civil(y, m, d) * _MS_PER_DAY


def dcc_date_of_birth(text: str) -> DateTime:
    """``dccDateOfBirth``: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` as the last date-time it allows."""
    match = _DATE_RE.fullmatch(text)
    if match is None:
        raise CertLogicError(f"can't parse {_shown(text)} as an EU DCC date-of-birth")
    y, m, d = match.groups()
    if m is None:
        return DateTime(_date_ms(text, int(y), 12, 31))
    return DateTime(_date_ms(text, int(y), int(m), None if d is None else int(d)))


def parse_date_time(text: str) -> DateTime:
    """Parse a date or date-time string in one of the formats allowed by ``plusTime``.

    Partial dates read as by ``dccDateOfBirth``; a missing time is midnight, a missing offset ``Z``;
    decimals beyond milliseconds are truncated.
    """
    if _DATE_RE.fullmatch(text):
        return dcc_date_of_birth(text)
    match = _DATE_TIME_RE.fullmatch(text)
    if match is None:
        raise CertLogicError(f"not an allowed date or date-time format: {_shown(text)}")
    y, mo, d, hh, mi, ss, frac, zone, sign, oh, om = match.groups()
    hour, minute, second = int(hh), int(mi), int(ss)
    millis = int((frac or "")[:3].ljust(3, "0"))
    if minute > 59 or second > 59 or hour > 24 or (hour == 24 and (minute or second or millis)):
        raise CertLogicError(f"not a valid time of day: {_shown(text)}")
    offset = 0
    if zone is not None and zone != "Z":
        off_h, off_m = int(oh), int(om or "0")
        if off_h > 23 or off_m > 59:
            raise CertLogicError(f"not a valid timezone offset: {_shown(text)}")
        offset = (off_h * 60 + off_m) * 60_000 * (1 if sign == "+" else -1)
    day_ms = _date_ms(text, int(y), int(mo), int(d))
    return DateTime(day_ms + hour * _MS_PER_HOUR + minute * 60_000 + second * 1000 + millis - offset)


def plus_time(value: DateTime, amount: int, unit: str) -> DateTime:
    """Offset a date-time as JavaScript's ``setUTC<unit>(getUTC<unit>() + amount)`` does (UTC, no DST).

    Day-of-month overflow rolls over: 2020-02-29 plus one year is 2021-03-01.
    """
    if not _is_int(amount):
        raise CertLogicError(f"amount must be an integer, not {_describe(amount)}")
    if value.ms is None or amount == 0:
        return value
    if unit not in TIME_UNITS:
        raise CertLogicError(f"unknown time unit {_shown(str(unit))}")
    if abs(amount) > _MAX_AMOUNT:
        return DateTime(None)
    amount = int(amount)
    if unit == "hour":
        return _clip(value.ms + amount * _MS_PER_HOUR)
    if unit == "day":
        return _clip(value.ms + amount * _MS_PER_DAY)
    days, tod = divmod(value.ms, _MS_PER_DAY)
    y, m, d = _civil_from_days(days)
    if unit == "month":
        months = m - 1 + amount
        y, m = y + months // 12, months % 12 + 1
    else:
        y += amount
    return _clip((_days_from_civil(y, m, 1) + d - 1) * _MS_PER_DAY + tod)


# --------------------------------------------------------------------------------------------------
# Values


def _is_int(value: Any) -> bool:
    """JavaScript's ``Number.isInteger``: JSON has one number type, so ``42.0`` is an integer."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def _js_number(value: int | float) -> int | float:
    """Beyond 2**53 an integer is a (possibly infinite) double, as in JavaScript: keeps ``+`` cheap."""
    if isinstance(value, float) or abs(value) <= _JS_SAFE_INTEGER:
        return value
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def _boolsiness(value: Any) -> bool | None:
    """True for truthy, False for falsy, None for values that are neither (date-times, objects...)."""
    if value is True:
        return True
    if value is False or value is None:
        return False
    if isinstance(value, str | list | dict):
        return len(value) > 0
    if isinstance(value, int | float):
        return value != 0
    return None


def _describe(value: Any) -> str:
    """A short, safe description of a value for error messages (never a full repr)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 64 else "a large integer"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return f"string {_shown(value)}"
    if isinstance(value, list):
        return f"an array of length {len(value)}"
    if isinstance(value, dict):
        return f"an object with {len(value)} key(s)"
    if isinstance(value, DateTime):
        return f"date-time {value.isoformat()}"
    return f"a {type(value).__name__}"


# --------------------------------------------------------------------------------------------------
# Evaluation


class _Run:
    """Per-call evaluation state: the step budget and the opt-in extensions."""

    __slots__ = ("steps", "reduce_with_data", "null_safe_in")

    def __init__(self, max_steps: int, reduce_with_data: bool, null_safe_in: bool) -> None:
        self.steps = max_steps
        self.reduce_with_data = reduce_with_data
        self.null_safe_in = null_safe_in

    def tick(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise CertLogicError("evaluation step budget exhausted (expression too costly)")


def evaluate(
    expr: Any,
    data: Any,
    *,
    max_steps: int = MAX_STEPS,
    reduce_with_data: bool = False,
    null_safe_in: bool = False,
) -> Any:
    """Evaluate a CertLogic expression against a data context (JSON values).

    Returns a JSON value or a `DateTime`. Raises `CertLogicError` for an invalid expression, a type
    mismatch, nesting deeper than `MAX_DEPTH`, or more than ``max_steps`` evaluation steps.
    """
    run = _Run(max_steps, reduce_with_data, null_safe_in)
    try:
        return _eval(expr, data, run, 0)
    except RecursionError:
        raise CertLogicError("expression or data nested too deeply") from None


def _eval(expr: Any, data: Any, run: _Run, depth: int) -> Any:
    run.tick()
    if isinstance(expr, str | bool) or _is_int(expr):
        return expr
    if expr is None:
        raise CertLogicError("invalid CertLogic expression: null")
    if isinstance(expr, int | float):
        raise CertLogicError(f"invalid CertLogic expression: {expr!r} is a non-integer number")
    if depth >= MAX_DEPTH:
        raise CertLogicError(f"expression nested too deeply (more than {MAX_DEPTH} levels)")
    if isinstance(expr, list):
        return [_eval(item, data, run, depth + 1) for item in expr]
    if isinstance(expr, dict):
        if len(expr) != 1:
            raise CertLogicError(f"expression object must have exactly one key, but it has {len(expr)}")
        ((operator, values),) = expr.items()
        if operator == "var":
            return _var(values, data, run)
        if not isinstance(values, list):
            raise CertLogicError('operation not of the form { "<operator>": [ <values...> ] }')
        handler = _OPERATIONS.get(operator) if isinstance(operator, str) else None
        if handler is None:
            raise CertLogicError(f"unrecognised operator: {_shown(str(operator))}")
        return handler(operator, values, data, run, depth + 1)
    raise CertLogicError(f"invalid CertLogic expression: {_describe(expr)}")


def _var_path_error(path: str) -> str | None:
    if path == "" or all(path.split(".")):
        return None
    return f"data access path doesn't have a valid format: {path}"


def _var(path: Any, data: Any, run: _Run) -> Any:
    if not isinstance(path, str):
        raise CertLogicError('not of the form { "var": "<path>" }')
    if path == "":
        return data
    error = _var_path_error(path)
    if error:
        raise CertLogicError(error)
    value = data
    for fragment in path.split("."):
        run.tick()
        if isinstance(value, dict):
            value = value.get(fragment)
        elif isinstance(value, list) and fragment.isascii() and fragment.isdigit():
            index = int(fragment)
            value = value[index] if index < len(value) else None
        else:
            return None
    return value


def _arity(operator: str, values: list, expected: int) -> None:
    if len(values) != expected:
        plural = "values/operands" if expected != 1 else "value/operand"
        raise CertLogicError(
            f'a "{operator}"-operation must have exactly {expected} {plural}, but it has {len(values)}'
        )


def _op_if(operator: str, values: list, data: Any, run: _Run, depth: int) -> Any:
    _arity(operator, values, 3)
    guard = _eval(values[0], data, run, depth)
    truth = _boolsiness(guard)
    if truth is None:
        raise CertLogicError(f"if-guard evaluates to something neither truthy, nor falsy: {_describe(guard)}")
    return _eval(values[1] if truth else values[2], data, run, depth)


def _op_not(operator: str, values: list, data: Any, run: _Run, depth: int) -> Any:
    if len(values) != 1:
        raise CertLogicError(
            f"a !-operation (logical not/negation) must have exactly 1 operand, but it has {len(values)}"
        )
    operand = _eval(values[0], data, run, depth)
    truth = _boolsiness(operand)
    if truth is None:
        raise CertLogicError(
            f"operand of ! evaluates to something neither truthy, nor falsy: {_describe(operand)}"
        )
    return not truth


def _op_and(operator: str, values: list, data: Any, run: _Run, depth: int) -> Any:
    if len(values) < 2:
        raise CertLogicError(f'an "and" operation must have at least 2 operands, but it has {len(values)}')
    value: Any = True
    for operand in values:
        value = _eval(operand, data, run, depth)
        truth = _boolsiness(value)
        if truth is None:
            raise CertLogicError(
                f'all operands of an "and" operation must be either truthy or falsy, got {_describe(value)}'
            )
        if not truth:
            return value
    return value


def _strict_equal(left: Any, right: Any, run: _Run) -> bool:
    """``===`` without coercion; iterative (no recursion on deep data) and charged to the step budget."""
    pending = [(left, right)]
    while pending:
        a, b = pending.pop()
        run.tick()
        if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
            if a is not b:
                return False
        elif isinstance(a, str) or isinstance(b, str):
            if not (isinstance(a, str) and isinstance(b, str) and a == b):
                return False
        elif isinstance(a, int | float) or isinstance(b, int | float):
            if not (isinstance(a, int | float) and isinstance(b, int | float) and a == b):
                return False
        elif isinstance(a, DateTime) or isinstance(b, DateTime):
            if not (isinstance(a, DateTime) and isinstance(b, DateTime) and a.valid and a.ms == b.ms):
                return False
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                return False
            pending.extend(zip(a, b, strict=True))
        elif isinstance(a, dict) and isinstance(b, dict):
            if a.keys() != b.keys():
                return False
            pending.extend((a[key], b[key]) for key in a)
        elif a is not b:
            return False
    return True


def _compare(operator: str, left: Any, right: Any) -> bool:
    if operator == "<":
        return left < right
    if operator == ">":
        return left > right
    if operator == "<=":
        return left <= right
    return left >= right


def _op_infix(operator: str, values: list, data: Any, run: _Run, depth: int) -> Any:
    if operator in _COMPARISONS:
        if not 2 <= len(values) <= 3:
            raise CertLogicError(
                f'an operation with operator "{operator}" must have 2 or 3 operands, but it has {len(values)}'
            )
    elif len(values) != 2:
        raise CertLogicError(
            f'an operation with operator "{operator}" must have 2 operands, but it has {len(values)}'
        )
    args = [_eval(value, data, run, depth) for value in values]
    if operator == "===":
        return _strict_equal(args[0], args[1], run)
    if operator == "in":
        haystack = args[1]
        if haystack is None and run.null_safe_in:
            return False
        if not isinstance(haystack, list):
            raise CertLogicError(
                f'right-hand side of an "in" operation must be an array, not {_describe(haystack)}'
            )
        return any(_strict_equal(args[0], item, run) for item in haystack)
    if operator == "+":
        if not (_is_int(args[0]) and _is_int(args[1])):
            raise CertLogicError(
                f'operands of a "+" operation must both be integers, not {_describe(args[0])} and {_describe(args[1])}'
            )
        return _js_number(args[0] + args[1])
    if operator in _DATE_COMPARISON:
        for arg in args:
            if not isinstance(arg, DateTime):
                raise CertLogicError(
                    f'all operands of a date-time comparison ("{operator}") must be date-times, not {_describe(arg)}'
                )
        if not all(arg.valid for arg in args):
            return False  # JavaScript: every comparison with an Invalid Date is false
        operands: list[Any] = [arg.ms for arg in args]
        operator = _DATE_COMPARISON[operator]
    else:
        for arg in args:
            if not _is_int(arg):
                raise CertLogicError(
                    f'all operands of a comparison ("{operator}") must be integers, not {_describe(arg)}'
                )
        operands = args
    return all(_compare(operator, operands[i], operands[i + 1]) for i in range(len(operands) - 1))


def _op_plus_time(operator: str, values: list, data: Any, run: _Run, depth: int) -> Any:
    _arity(operator, values, 3)
    amount, unit = values[1], values[2]
    if not _is_int(amount):
        raise CertLogicError('"amount" argument (#2) of "plusTime" must be an integer')
    if not isinstance(unit, str) or unit not in TIME_UNITS:
        raise CertLogicError(
            f'"unit" argument (#3) of "plusTime" must be a string equal to one of {", ".join(TIME_UNITS)}'
        )
    text = _eval(values[0], data, run, depth)
    if not isinstance(text, str):
        raise CertLogicError(f'date argument of "plusTime" must be a string, not {_describe(text)}')
    return plus_time(parse_date_time(text), int(amount), unit)


def _op_dcc_date_of_birth(operator: str, values: list, data: Any, run: _Run, depth: int) -> Any:
    _arity(operator, values, 1)
    text = _eval(values[0], data, run, depth)
    if not isinstance(text, str):
        raise CertLogicError(f'operand of "dccDateOfBirth" must be a string, not {_describe(text)}')
    return dcc_date_of_birth(text)


def _op_reduce(operator: str, values: list, data: Any, run: _Run, depth: int) -> Any:
    _arity(operator, values, 3)
    operand, lambda_, initial = values
    items = _eval(operand, data, run, depth)
    if items is None:
        return _eval(initial, data, run, depth)
    if not isinstance(items, list):
        raise CertLogicError(f"operand of reduce evaluated to a non-null non-array: {_describe(items)}")
    accumulator = _eval(initial, data, run, depth)
    for current in items:
        context = {"accumulator": accumulator, "current": current}
        if run.reduce_with_data:
            context["data"] = data
        accumulator = _eval(lambda_, context, run, depth)
    return accumulator


_UVCI_PREFIX = "URN:UVCI:"
_UVCI_SEPARATORS = re.compile(r"[/#:]")


def _op_extract_from_uvci(operator: str, values: list, data: Any, run: _Run, depth: int) -> Any:
    _arity(operator, values, 2)
    index = values[1]
    if not _is_int(index):
        raise CertLogicError('"index" argument (#2) of "extractFromUVCI" must be an integer')
    uvci = _eval(values[0], data, run, depth)
    if uvci is None:
        return None
    if not isinstance(uvci, str):
        raise CertLogicError(
            f'"UVCI" argument (#1) of "extractFromUVCI" must be either a string or null, not {_describe(uvci)}'
        )
    index = int(index)
    if index < 0:
        return None
    fragments = _UVCI_SEPARATORS.split(uvci.removeprefix(_UVCI_PREFIX))
    return fragments[index] if index < len(fragments) else None


_OPERATIONS = {
    "if": _op_if,
    "!": _op_not,
    "and": _op_and,
    **{operator: _op_infix for operator in INFIX_OPERATORS - {"and"}},
    "plusTime": _op_plus_time,
    "dccDateOfBirth": _op_dcc_date_of_birth,
    "reduce": _op_reduce,
    "extractFromUVCI": _op_extract_from_uvci,
}


# --------------------------------------------------------------------------------------------------
# Validation (format only, as certlogic-js's `validateFormat`)


class Issue(NamedTuple):
    """A validation issue: the offending (sub-)expression and a message."""

    expr: Any
    message: str


def _js_str(value: Any, depth: int = 0) -> str:
    """JavaScript's string conversion of a JSON value, as used in the reference messages (bounded)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 64 else "<large integer>"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, str):
        return value if len(value) <= 80 else value[:80] + "..."
    if isinstance(value, list):
        if depth > 2:
            return "..."
        shown = ",".join("" if item is None else _js_str(item, depth + 1) for item in value[:10])
        return shown + (",..." if len(value) > 10 else "")
    return "[object Object]"


def validation_issues(expr: Any) -> list[Issue]:
    """All format issues of a CertLogic expression, with the sub-expression each one is about."""
    issues: list[Issue] = []
    try:
        _validate(expr, issues, 0)
    except RecursionError:
        issues.append(Issue(expr, "expression nested too deeply"))
    return issues


def validate(expr: Any) -> list[str]:
    """The messages of `validation_issues`: an empty list means the expression is well-formed."""
    return [issue.message for issue in validation_issues(expr)]


def _validate(expr: Any, issues: list[Issue], depth: int) -> None:
    def error(message: str) -> None:
        issues.append(Issue(expr, message))

    if isinstance(expr, str | bool) or _is_int(expr):
        return
    if isinstance(expr, int | float):
        error(f"{_js_str(expr)} is a non-integer number")
        return
    if expr is None:
        error("invalid CertLogic expression")
        return
    if depth >= MAX_DEPTH:
        error(f"expression nested too deeply (more than {MAX_DEPTH} levels)")
        return
    if isinstance(expr, list):
        for item in expr:
            _validate(item, issues, depth + 1)
        return
    if not isinstance(expr, dict):
        error("invalid CertLogic expression")
        return
    if len(expr) != 1:
        error(f"expression object must have exactly one key, but it has {len(expr)}")
        return
    ((operator, values),) = expr.items()
    if operator == "var":
        if not isinstance(values, str):
            error('not of the form { "var": "<path>" }')
        elif message := _var_path_error(values):
            error(message)
        return
    if not isinstance(values, list):
        error('operation not of the form { "<operator>": [ <values...> ] }')
        return
    count = len(values)
    checked = values
    if operator == "if":
        if count != 3:
            error(f'an "if"-operation must have exactly 3 values/operands, but it has {count}')
        checked = values[:3]
    elif operator == "and":
        if count < 2:
            error(f'an "and" operation must have at least 2 operands, but it has {count}')
    elif operator in _COMPARISONS:
        if not 2 <= count <= 3:
            error(f'an operation with operator "{operator}" must have 2 or 3 operands, but it has {count}')
        checked = values[:3]
    elif operator in INFIX_OPERATORS:
        if count != 2:
            error(f'an operation with operator "{operator}" must have 2 operands, but it has {count}')
        checked = values[:2]
    elif operator == "!":
        if count != 1:
            error(f"a !-operation (logical not/negation) must have exactly 1 operand, but it has {count}")
            return
    elif operator == "plusTime":
        if count != 3:
            error(f'a "plusTime"-operation must have exactly 3 values/operands, but it has {count}')
        if count > 1 and not _is_int(values[1]):
            error(f'"amount" argument (#2) of "plusTime" must be an integer, but it is: {_js_str(values[1])}')
        if count > 2 and (not isinstance(values[2], str) or values[2] not in TIME_UNITS):
            error(
                f'"unit" argument (#3) of "plusTime" must be a string equal to one of {", ".join(TIME_UNITS)}, '
                f"but it is: {_js_str(values[2])}"
            )
        checked = values[:1]
    elif operator == "reduce":
        if count != 3:
            error(f'a "reduce"-operation must have exactly 3 values/operands, but it has {count}')
        checked = values[:3]
    elif operator == "extractFromUVCI":
        if count != 2:
            error(f'an "extractFromUVCI"-operation must have exactly 2 values/operands, but it has {count}')
        if count > 1 and not _is_int(values[1]):
            error(
                f'"index" argument (#2) of "extractFromUVCI" must be an integer, but it is: {_js_str(values[1])}'
            )
        checked = values[:1]
    elif operator == "dccDateOfBirth":
        if count != 1:
            error(f'a "dccDateOfBirth"-operation must have exactly 1 value/operand, but it has {count}')
        checked = values[:1]
    else:
        error(f'unrecognised operator: "{operator}"')
        return
    for value in checked:
        _validate(value, issues, depth + 1)
