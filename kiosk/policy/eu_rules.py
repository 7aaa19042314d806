"""EU DCC business rules: load rules and value sets, select the applicable ones, run them with CertLogic.

Mirrors the EU DCC verifier apps (dgc-certlogic-android): rules are selected by country, type,
certificate type (plus "General") and validity window, the highest ``Version`` of each ``Identifier``
wins, and each rule's ``Logic`` is evaluated against ``{"payload": <DCC JSON>, "external": {...}}``
where ``external.valueSets`` maps a value-set id to the list of its codes. Only a rule that evaluates
to ``true`` passes; an evaluation error or a non-boolean result is reported, never raised.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.policy.certlogic import CertLogicError, evaluate

__all__ = [
    "CERTIFICATE_TYPES",
    "RuleResult",
    "applicable_rules",
    "certificate_type",
    "description",
    "external_parameters",
    "iso_timestamp",
    "load_rules",
    "load_value_sets",
    "run_rules",
]

CERTIFICATE_TYPES = ("General", "Vaccination", "Test", "Recovery")
_PAYLOAD_KEYS = {"v": "Vaccination", "t": "Test", "r": "Recovery"}


@dataclass(frozen=True, slots=True)
class RuleResult:
    """Outcome of one rule: ``passed`` is True/False, or None when the rule could not be evaluated."""

    identifier: str
    passed: bool | None
    description_en: str
    error: str | None = None


def load_rules(path: str | Path) -> list[dict[str, Any]]:
    """Rules from a JSON file holding a list of EU business rules (as served by the EU gateway)."""
    rules = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        raise ValueError(f"{path}: expected a JSON list of rule objects")
    return rules


def load_value_sets(path: str | Path) -> dict[str, list[str]]:
    """Value sets ``{valueSetId: [codes]}`` from a JSON list of EU value-set documents."""
    documents = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(documents, dict):
        documents = [documents]
    value_sets: dict[str, list[str]] = {}
    for document in documents:
        if not isinstance(document, dict) or not isinstance(document.get("valueSetValues"), dict):
            raise ValueError(f"{path}: not an EU value-set document: missing valueSetId/valueSetValues")
        value_sets[str(document["valueSetId"])] = list(document["valueSetValues"])
    return value_sets


def _version(text: Any) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError:
        return (-1,)


def _instant(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return moment


def applicable_rules(
    rules: Iterable[Mapping[str, Any]],
    country: str,
    cert_type: str,
    at: datetime,
    *,
    rule_type: str = "Acceptance",
    region: str | None = None,
) -> list[Mapping[str, Any]]:
    """The rules a verifier in ``country`` applies at ``at`` to a certificate of ``cert_type``.

    Keeps rules of that ``Country`` and ``Type`` (Acceptance rules of the country of arrival;
    Invalidation rules are selected with the issuing country), whose ``CertificateType`` is
    ``cert_type`` or "General", with ``ValidFrom <= at <= ValidTo``; of several versions of one
    ``Identifier`` the highest ``Version`` wins. With ``region`` given, rules for another region are
    dropped (rules without a region always apply). Sorted by identifier.
    """
    _aware(at, "at")
    if cert_type not in CERTIFICATE_TYPES:
        raise ValueError(
            f"unknown certificate type {cert_type!r}; expected one of {', '.join(CERTIFICATE_TYPES)}"
        )
    wanted_types = {"General", cert_type}
    best: dict[str, Mapping[str, Any]] = {}
    for rule in rules:
        if str(rule.get("Country", "")).upper() != country.upper() or rule.get("Type") != rule_type:
            continue
        if rule.get("CertificateType") not in wanted_types:
            continue
        rule_region = rule.get("Region")
        if region is not None and rule_region and str(rule_region).upper() != region.upper():
            continue
        valid_from, valid_to = _instant(rule.get("ValidFrom")), _instant(rule.get("ValidTo"))
        if valid_from is None or valid_to is None or not valid_from <= at <= valid_to:
            continue
        identifier = str(rule.get("Identifier"))
        current = best.get(identifier)
        if current is None or _version(rule.get("Version")) > _version(current.get("Version")):
            best[identifier] = rule
    return [best[identifier] for identifier in sorted(best)]


def certificate_type(payload: Mapping[str, Any]) -> str | None:
    """ "Vaccination", "Test" or "Recovery" by the DCC's single non-empty ``v``/``t``/``r`` entry."""
    present = [name for key, name in _PAYLOAD_KEYS.items() if payload.get(key)]
    return present[0] if len(present) == 1 else None


def iso_timestamp(moment: datetime | int | float) -> str:
    """ISO 8601 as CertLogic's ``plusTime`` reads it; an int/float is a CWT epoch time in seconds."""
    if isinstance(moment, int | float) and not isinstance(moment, bool):
        moment = datetime.fromtimestamp(moment, UTC)
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a datetime or epoch seconds, not {type(moment).__name__}")
    _aware(moment, "timestamp")
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def external_parameters(
    *,
    validation_clock: datetime,
    value_sets: Mapping[str, Any],
    country_code: str,
    iat: datetime | int | float,
    exp: datetime | int | float,
    issuer_country_code: str = "",
    kid: str = "",
    region: str = "",
) -> dict[str, Any]:
    """The ``external`` object of the data context, with the fields of the EU verifiers' ExternalParameter.

    A value set may be given as a list of codes or as an EU value-set mapping (its keys are the codes).
    """
    return {
        "validationClock": iso_timestamp(_aware(validation_clock, "validation_clock")),
        "valueSets": {str(name): list(codes) for name, codes in value_sets.items()},
        "countryCode": country_code,
        "exp": iso_timestamp(exp),
        "iat": iso_timestamp(iat),
        "issuerCountryCode": issuer_country_code,
        "kid": kid,
        "region": region,
    }


def description(rule: Mapping[str, Any], lang: str = "en") -> str:
    """The rule's description in ``lang``, else the first one, else ""."""
    descriptions = [d for d in rule.get("Description") or [] if isinstance(d, Mapping)]
    for entry in descriptions:
        if entry.get("lang") == lang:
            return str(entry.get("desc", ""))
    return str(descriptions[0].get("desc", "")) if descriptions else ""


def _schema_mismatch(rule: Mapping[str, Any], payload: Mapping[str, Any]) -> str | None:
    """As the EU verifiers: a DCC of another major schema version leaves the rule open."""
    dcc, needed = _version(payload.get("ver")), _version(rule.get("SchemaVersion", "1.0.0"))
    if dcc[0] < 0 or needed[0] < 0 or dcc[0] != needed[0]:
        return f"rule for DCC schema {rule.get('SchemaVersion')!s} does not apply to DCC version {payload.get('ver')!s}"
    return None


def run_rules(
    rules: Iterable[Mapping[str, Any]],
    payload: Mapping[str, Any],
    *,
    validation_clock: datetime,
    value_sets: Mapping[str, Any],
    country_code: str,
    iat: datetime | int | float,
    exp: datetime | int | float,
    issuer_country_code: str = "",
    kid: str = "",
    region: str = "",
) -> list[RuleResult]:
    """Evaluate each rule's ``Logic`` on the DCC JSON ``payload``; one `RuleResult` per rule, in order.

    ``passed`` is True only for a result of ``true``, False for ``false``; None (with ``error``) when the
    rule is not CertLogic, does not fit the DCC's schema version, raises, or yields a non-boolean.
    A DCC older than the rule's schema version (same major) fails the rule, as in the EU verifiers.
    """
    data = {
        "payload": payload,
        "external": external_parameters(
            validation_clock=validation_clock,
            value_sets=value_sets,
            country_code=country_code,
            iat=iat,
            exp=exp,
            issuer_country_code=issuer_country_code,
            kid=kid,
            region=region,
        ),
    }
    results = []
    for rule in rules:
        identifier, text = str(rule.get("Identifier", "")), description(rule)
        if str(rule.get("Engine", "CERTLOGIC")).upper() != "CERTLOGIC":
            results.append(
                RuleResult(identifier, None, text, f"unsupported rule engine {rule.get('Engine')!r}")
            )
            continue
        mismatch = _schema_mismatch(rule, payload)
        if mismatch:
            results.append(RuleResult(identifier, None, text, mismatch))
            continue
        try:
            outcome = evaluate(rule.get("Logic"), data)
        except CertLogicError as error:
            results.append(RuleResult(identifier, None, text, str(error)))
            continue
        if not isinstance(outcome, bool):
            results.append(
                RuleResult(
                    identifier, None, text, f"rule evaluated to a non-boolean ({type(outcome).__name__})"
                )
            )
            continue
        if outcome and _version(payload.get("ver")) < _version(rule.get("SchemaVersion", "1.0.0")):
            outcome = False
        results.append(RuleResult(identifier, outcome, text))
    return results
