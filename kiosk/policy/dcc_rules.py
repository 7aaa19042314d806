"""The site's CertLogic rules as the policy's `rules` check for valid DCCs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from kiosk.codes import Format, Verification
from kiosk.codes.dcc import to_json
from kiosk.policy.eu_rules import applicable_rules, certificate_type, load_rules, load_value_sets, run_rules
from kiosk.policy.policy import Policy, PolicyError


def rules_check(policy: Policy, clock: Callable[[], float]) -> Callable[[Verification], bool] | None:
    """A check that passes a DCC only when every rule in force for the policy's country returns true
    (an error or a non-boolean counts as a failure); None when the policy runs no rules."""
    if policy.dcc_rules == "none":
        return None
    try:
        rules = load_rules(Path(policy.dcc_rules))
        value_sets = load_value_sets(Path(policy.dcc_value_sets)) if policy.dcc_value_sets else {}
    except (OSError, ValueError) as exc:
        raise PolicyError(f"dcc_rules: cannot load {exc}") from None
    country = policy.dcc_rules_country

    def check(v: Verification) -> bool:
        if v.format is not Format.DCC or not isinstance(v.claims, dict):
            return True
        payload = to_json(v.claims)
        at = dt.datetime.fromtimestamp(clock(), dt.UTC)
        in_force = applicable_rules(rules, country, certificate_type(payload) or "General", at)
        results = run_rules(
            in_force,
            payload,
            validation_clock=at,
            value_sets=value_sets,
            country_code=country,
            iat=v.issued_at or 0,
            exp=v.expires_at or 0,
        )
        return all(r.passed is True for r in results)

    return check
