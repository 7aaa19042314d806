"""Policy files: defaults, validation with clear errors, and outcome overrides."""

from __future__ import annotations

import pytest

from kiosk.codes import Format, Verification
from kiosk.policy.policy import CardInfo, Policy, PolicyError, Visit, decide, load_policy, parse_policy

NOW = 1_795_600_000.0


def green(code_type="d", issued_at=NOW - 60, issuer="440300") -> Verification:
    v = Verification(
        Format.PHIC, issuer=issuer, colour="green", code_type=code_type, issued_at=int(issued_at)
    )
    v.checks.decode = v.checks.signature = v.checks.key_known = v.checks.validity_window = True
    return v


def test_defaults() -> None:
    p = Policy()
    assert p.fever_threshold == 37.3 and p.remeasure and p.trust_max_age_hours == 72
    assert p.colours == {"green": "pass", "yellow": "refer", "red": "deny"}
    assert load_policy(None) == p


def test_a_site_file(tmp_path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        'site = "North gate"\nformats = ["phic"]\nissuers = ["44", "11"]\nfever_threshold = 37.5\n'
        'max_code_age_hours = { d = 2 }\ncolours = { yellow = "deny" }\noutcomes = { "key.unknown" = "refer" }\n'
    )
    p = load_policy(path)
    assert p.site == "North gate" and p.issuers == ["44", "11"] and p.fever_threshold == 37.5
    assert decide(Visit(green(), temperature=36.5), p, NOW).decision == "pass"
    old = Visit(green(issued_at=NOW - 3 * 3600), temperature=36.5)
    assert decide(old, p, NOW).reasons == ["code.expired"]
    yellow = green()
    yellow.colour = "yellow"
    assert decide(Visit(yellow, temperature=36.5), p, NOW).decision == "deny"
    unknown = Verification(Format.PHIC, reasons=["key.unknown"])
    assert decide(Visit(unknown, temperature=36.5), p, NOW).decision == "refer"
    assert decide(Visit(green(issuer="310000"), temperature=36.5), p, NOW).reasons == ["issuer.not_accepted"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fever = 38\n", "unknown key(s) fever"),
        ("fever_threshold = 'high'\n", "fever_threshold must be int or float"),
        ("fever_threshold = 45\n", "not a body temperature"),
        ("formats = ['phic', 'vhc']\n", "'vhc' is not one of"),
        ("colours = { green = 'maybe' }\n", "colours: green = 'maybe'"),
        ("colours = { blue = 'pass' }\n", "colours: blue"),
        ("outcomes = { 'code.red' = 'ok' }\n", "must be pass, deny or refer"),
        ("max_code_age_hours = { x = 1 }\n", "max_code_age_hours"),
        ("trust_warn_age_hours = 100\n", "must not exceed"),
        ("timezone = 'Mars/Olympus'\n", "IANA time zone"),
        ("remeasure = 1\n", "remeasure must be bool"),
        ("[site\n", "not valid TOML"),
    ],
)
def test_bad_policies_are_refused_clearly(text, message) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "site.toml")
    assert message in str(err.value) and "site.toml" in str(err.value)


def test_binding_required() -> None:
    p = Policy(require_binding=True)
    assert decide(Visit(green(), temperature=36.5), p, NOW).reasons == ["code.green", "card.not_bound"]
    bound = Visit(green(), card=CardInfo(None, True), temperature=36.5)
    assert decide(bound, p, NOW).decision == "pass"


def test_nothing_acceptable_never_passes() -> None:
    assert decide(Visit(temperature=36.5), Policy(), NOW).decision == "deny"
    card_only_off = Policy(card_alone=False)
    assert (
        decide(
            Visit(card=CardInfo(None, None), temperature=36.5, status_list_fresh=True), card_only_off, NOW
        ).decision
        == "deny"
    )


def test_dcc_rules_decide_with_the_real_eu_rules() -> None:
    """LT's rules in force on 2022-01-18: a 3/3 vaccination passes; a 1/2 (ES/403 at 2021-12-10) fails."""
    import datetime as dt
    import json

    from conftest import corpus

    from kiosk.policy.dcc_rules import rules_check

    rules_dir = corpus("eu-rules")
    policy = Policy(
        dcc_rules=str(rules_dir / "eu-rules.json"),
        dcc_rules_country="LT",
        dcc_value_sets=str(rules_dir / "eu-value-sets.json"),
    )
    outcomes = {}
    for name in ("LT/2DCode/raw/1.json", "ES/2DCode/raw/403.json"):
        doc = json.loads(corpus("dgc-testdata", *name.split("/")).read_text())
        clock = dt.datetime.fromisoformat(
            doc["TESTCTX"]["VALIDATIONCLOCK"].replace("Z", "+00:00")
        ).timestamp()
        v = green()  # a genuine DCC carrying the test file's payload
        v.format, v.colour, v.claims = Format.DCC, None, doc["JSON"]
        v.issued_at, v.expires_at = int(clock) - 86400, int(clock) + 180 * 86400
        check = rules_check(policy, lambda clock=clock: clock)
        outcomes[name] = check(v)
        d = decide(Visit(v, temperature=36.5), policy, clock, rules=check)
        assert d.reasons == (["code.valid"] if outcomes[name] else ["rules.failed"])
    assert outcomes == {"LT/2DCode/raw/1.json": True, "ES/2DCode/raw/403.json": False}
