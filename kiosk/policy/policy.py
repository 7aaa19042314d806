"""Site rules as data, and the one pure function that turns what was read into a decision.

A policy file (TOML, validated on load with errors naming the key) sets what a site accepts; `decide`
combines a code's verification, an ID card, a temperature, trust freshness and the clock into
`pass`, `deny` or `refer`, with stable reason codes (docs/policy.md).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.codes.model import Format, Reason, Verification

PASS, DENY, REFER = "pass", "deny", "refer"
SEVERITY = {PASS: 0, REFER: 1, DENY: 2}


class R:
    """Reason codes of decisions (the verifier's own codes, `kiosk.codes.Reason`, pass through)."""

    CODE_GREEN = "code.green"
    CODE_YELLOW = "code.yellow"
    CODE_RED = "code.red"
    CODE_VALID = "code.valid"  # a genuine DCC/SHC (no colour) that passed the site's rules
    FORMAT_NOT_ACCEPTED = "format.not_accepted"
    ISSUER_NOT_ACCEPTED = "issuer.not_accepted"
    TRUST_STALE = "trust.stale"
    CLOCK_UNTRUSTED = "clock.untrusted"
    TEMPERATURE_FEVER = "temperature.fever"
    TEMPERATURE_UNAVAILABLE = "temperature.unavailable"
    CARD_MISMATCH = "card.mismatch"
    CARD_NOT_BOUND = "card.not_bound"  # the site requires a card bound to the code, and none matches
    CARD_NO_ABNORMALITY = "card.no_abnormality"
    CARD_STATUS_YELLOW = "card.status_yellow"
    CARD_STATUS_RED = "card.status_red"
    CARD_UNREADABLE = "card.unreadable"
    CARD_FORGED = "card.forged"
    RULES_FAILED = "rules.failed"
    MANUAL = "guard.manual"


# What each reason means for the decision unless the policy's [outcomes] says otherwise.
DEFAULT_OUTCOMES: dict[str, str] = {
    R.CODE_GREEN: PASS,
    R.CODE_VALID: PASS,
    R.CARD_NO_ABNORMALITY: PASS,
    R.CODE_YELLOW: REFER,
    R.CODE_RED: DENY,
    Reason.CODE_EXPIRED: DENY,
    Reason.CODE_NOT_YET_VALID: DENY,
    Reason.CODE_REVOKED: DENY,
    Reason.SIGNATURE_INVALID: DENY,
    Reason.KEY_UNKNOWN: DENY,
    Reason.KEY_NOT_AUTHORIZED: DENY,
    Reason.KEY_USAGE: DENY,
    Reason.FORMAT_UNKNOWN: DENY,
    Reason.DECODE_FAILED: DENY,
    Reason.PAYLOAD_INVALID: DENY,
    Reason.CODE_INCOMPLETE: REFER,
    Reason.TRUST_STALE: REFER,
    R.FORMAT_NOT_ACCEPTED: DENY,
    R.ISSUER_NOT_ACCEPTED: DENY,
    R.CLOCK_UNTRUSTED: REFER,
    R.TEMPERATURE_FEVER: DENY,
    R.TEMPERATURE_UNAVAILABLE: REFER,
    R.CARD_MISMATCH: DENY,
    R.CARD_NOT_BOUND: REFER,
    R.CARD_STATUS_YELLOW: REFER,
    R.CARD_STATUS_RED: DENY,
    R.CARD_UNREADABLE: REFER,
    R.CARD_FORGED: DENY,
    R.RULES_FAILED: DENY,
}


class PolicyError(ValueError):
    pass


@dataclass(slots=True)
class Policy:
    site: str = "Checkpoint"
    timezone: str = "Asia/Shanghai"
    formats: list[str] = field(default_factory=lambda: ["phic", "dcc", "shc"])
    issuers: list[str] = field(default_factory=lambda: ["*"])  # PHIC region prefixes, "*" = any trusted
    colours: dict[str, str] = field(default_factory=lambda: {"green": PASS, "yellow": REFER, "red": DENY})
    clock_skew_seconds: int = 300
    max_code_age_hours: dict[str, float] = field(default_factory=dict)  # PHIC type d/p/a -> hours since iat
    temperature_required: bool = True
    fever_threshold: float = 37.3
    remeasure: bool = True  # one re-measure before refusing for fever
    card_alone: bool = True  # an ID card without a code decides by the status list
    require_binding: bool = False  # a PHIC must be bound (ih) to a swiped ID card
    trust_max_age_hours: float = 72.0  # older keys or status lists: no offline decision
    trust_warn_age_hours: float = 24.0
    companion_window_seconds: float = 0.8  # wait this long for a card after a code, or a code after a card
    result_seconds: float = 3.0  # how long a result shows before the next visit
    dcc_rules: str = "none"  # "none", or a CertLogic rules file (EU format) to run on every DCC
    dcc_rules_country: str = ""  # the country whose rules apply (e.g. "LT")
    dcc_value_sets: str = ""  # EU value sets file the rules refer to
    outcomes: dict[str, str] = field(default_factory=dict)  # reason -> pass/deny/refer overrides
    guard_pin_hash: str = ""  # kiosk.ui.guard.hash_pin(PIN); empty: the guard console stays locked
    technician_pin_hash: str = ""  # the same for the technician screens (a different PIN)
    sound_volume: int = 80  # 0-100
    sound_muted: bool = False
    retention_days: int = 28  # synced registrations older than this are deleted (unsynced ones never)
    audit_retention_days: int = 365  # guard actions (manual openings, overrides, exports)

    def outcome(self, reason: str) -> str:
        """pass / deny / refer for one reason: [outcomes] overrides, then colours, then the defaults."""
        if reason in self.outcomes:
            return self.outcomes[reason]
        if reason in (R.CODE_GREEN, R.CODE_YELLOW, R.CODE_RED) and reason[5:] in self.colours:
            return self.colours[reason[5:]]
        return DEFAULT_OUTCOMES.get(reason, REFER)


_TYPES: dict[str, tuple[type, ...]] = {
    "site": (str,),
    "timezone": (str,),
    "formats": (list,),
    "issuers": (list,),
    "colours": (dict,),
    "clock_skew_seconds": (int,),
    "max_code_age_hours": (dict,),
    "temperature_required": (bool,),
    "fever_threshold": (int, float),
    "remeasure": (bool,),
    "card_alone": (bool,),
    "require_binding": (bool,),
    "trust_max_age_hours": (int, float),
    "trust_warn_age_hours": (int, float),
    "companion_window_seconds": (int, float),
    "result_seconds": (int, float),
    "dcc_rules": (str,),
    "dcc_rules_country": (str,),
    "dcc_value_sets": (str,),
    "guard_pin_hash": (str,),
    "technician_pin_hash": (str,),
    "sound_volume": (int,),
    "sound_muted": (bool,),
    "retention_days": (int,),
    "audit_retention_days": (int,),
    "outcomes": (dict,),
}


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """A policy from TOML text (every key at the top level); PolicyError names what is wrong."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    known = {f.name for f in dataclasses.fields(Policy)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise PolicyError(f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for key, value in raw.items():
        types = _TYPES[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise PolicyError(
                f"{source}: {key} must be {' or '.join(t.__name__ for t in types)}, got {value!r}"
            )
    policy = Policy(**raw)
    for fmt in policy.formats:
        if fmt not in ("phic", "dcc", "shc"):
            raise PolicyError(f"{source}: formats: {fmt!r} is not one of phic, dcc, shc")
    if any(not isinstance(i, str) or not i for i in policy.issuers):
        raise PolicyError(f'{source}: issuers must be region-code prefixes such as "44" or "440300", or "*"')
    for colour, outcome in policy.colours.items():
        if colour not in ("green", "yellow", "red") or outcome not in SEVERITY:
            raise PolicyError(
                f"{source}: colours: {colour} = {outcome!r}; colours are green/yellow/red, "
                "outcomes pass/deny/refer"
            )
    for reason, outcome in policy.outcomes.items():
        if outcome not in SEVERITY:
            raise PolicyError(f"{source}: outcomes: {reason} = {outcome!r} must be pass, deny or refer")
    for kind, hours in policy.max_code_age_hours.items():
        if kind not in ("d", "p", "a") or not isinstance(hours, int | float) or hours <= 0:
            raise PolicyError(f"{source}: max_code_age_hours: {kind} = {hours!r}; types d/p/a, hours > 0")
    if not 0 <= policy.sound_volume <= 100:
        raise PolicyError(f"{source}: sound_volume must be 0-100")
    if not 1 <= policy.retention_days <= 3660 or not 1 <= policy.audit_retention_days <= 3660:
        raise PolicyError(f"{source}: retention_days and audit_retention_days must be 1-3660")
    if not 34.0 <= policy.fever_threshold <= 42.0:
        raise PolicyError(f"{source}: fever_threshold {policy.fever_threshold} is not a body temperature")
    if policy.trust_warn_age_hours > policy.trust_max_age_hours:
        raise PolicyError(f"{source}: trust_warn_age_hours must not exceed trust_max_age_hours")
    if not 0 <= policy.companion_window_seconds <= 10 or not 0.5 <= policy.result_seconds <= 60:
        raise PolicyError(f"{source}: companion_window_seconds must be 0-10 and result_seconds 0.5-60")
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(policy.timezone)
    except (ValueError, LookupError):
        raise PolicyError(f"{source}: timezone {policy.timezone!r} is not an IANA time zone") from None
    return policy


def load_policy(path: str | Path | None) -> Policy:
    if path is None:
        return Policy()
    from drivers.config import read_text

    return parse_policy(read_text(path, "policy", PolicyError), str(path))


# --- deciding ------------------------------------------------------------------------------------


@dataclass(slots=True)
class CardInfo:
    """An ID card as the policy sees it: the status list's answer, never the number itself."""

    status: str | None  # "yellow", "red" or None (not on the list)
    binds_code: bool | None  # the card's number matches the code's binding (None: no code or no binding)
    fault: str | None = None  # "unreadable" or "forged"


@dataclass(slots=True)
class Visit:
    """Everything read for one person, gathered by the checkpoint loop."""

    verification: Verification | None = None
    card: CardInfo | None = None
    temperature: float | None = None  # body estimate, after any re-measure
    temperature_error: str | None = None  # why there is no temperature
    trust_age_hours: float | None = None  # age of the oldest list this decision relies on
    status_list_fresh: bool = False  # a status list within its validity and the policy's age limit
    clock_ok: bool = True


@dataclass(slots=True)
class Decision:
    decision: str
    reasons: list[str]
    method: str  # code, card, code+card

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "reasons": list(self.reasons), "method": self.method}


def _code_reasons(
    v: Verification, policy: Policy, now: float, rules: Callable[[Verification], bool] | None
) -> list[str]:
    if v.format is Format.UNKNOWN:
        return [Reason.FORMAT_UNKNOWN]
    if str(v.format) not in policy.formats:
        return [R.FORMAT_NOT_ACCEPTED]
    reasons = [str(r) for r in v.reasons]
    if (
        v.format is Format.PHIC
        and v.issuer
        and "*" not in policy.issuers
        and not any(v.issuer.startswith(prefix) for prefix in policy.issuers)
    ):
        reasons.append(R.ISSUER_NOT_ACCEPTED)
    if reasons:
        return reasons
    if v.format is Format.PHIC:
        max_age = policy.max_code_age_hours.get(v.code_type or "")
        if max_age is not None and v.issued_at is not None and now - v.issued_at > max_age * 3600:
            return [Reason.CODE_EXPIRED]
        return [f"code.{v.colour}"]
    if v.format is Format.DCC and rules is not None and not rules(v):
        return [R.RULES_FAILED]
    return [R.CODE_VALID]


def decide(
    visit: Visit, policy: Policy, now: float, *, rules: Callable[[Verification], bool] | None = None
) -> Decision:
    """The decision for one visit. Pure. `rules` runs the site's CertLogic rules on a valid DCC."""
    reasons: list[str] = []
    v, card = visit.verification, visit.card
    method = "code+card" if v and card else "code" if v else "card"
    if not visit.clock_ok:
        reasons.append(R.CLOCK_UNTRUSTED)
    if visit.trust_age_hours is not None and visit.trust_age_hours > policy.trust_max_age_hours:
        reasons.append(R.TRUST_STALE)
    if v is not None:
        reasons += _code_reasons(v, policy, now, rules)
    if card is not None:
        if card.fault == "forged":
            reasons.append(R.CARD_FORGED)
        elif card.fault:
            reasons.append(R.CARD_UNREADABLE)
        elif v is not None and card.binds_code is False:
            reasons.append(R.CARD_MISMATCH)
        elif card.status == "red":
            reasons.append(R.CARD_STATUS_RED)
        elif card.status == "yellow":
            reasons.append(R.CARD_STATUS_YELLOW)
        elif v is None:
            if not policy.card_alone:
                reasons.append(R.FORMAT_NOT_ACCEPTED)
            elif visit.status_list_fresh:
                reasons.append(R.CARD_NO_ABNORMALITY)
            else:
                reasons.append(R.TRUST_STALE)
    if (
        policy.require_binding
        and v is not None
        and v.format is Format.PHIC
        and not (card and card.binds_code)
    ):
        reasons.append(R.CARD_NOT_BOUND)
    if visit.temperature is not None:
        if visit.temperature >= policy.fever_threshold:
            reasons.append(R.TEMPERATURE_FEVER)
    elif policy.temperature_required:
        reasons.append(R.TEMPERATURE_UNAVAILABLE)
    if not reasons:
        reasons.append(R.FORMAT_NOT_ACCEPTED)  # nothing presented that the site accepts
    reasons = list(dict.fromkeys(reasons))
    # The worst outcome wins. A pass always rests on a positive reason (code.green, code.valid,
    # card.no_abnormality): with nothing acceptable presented the list holds format.not_accepted.
    outcome = max((policy.outcome(r) for r in reasons), key=SEVERITY.__getitem__)
    return Decision(outcome, reasons, method)
