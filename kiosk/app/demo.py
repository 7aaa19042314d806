"""`kiosk demo`: the checkpoint on simulated hardware with demo keys and a dozen travellers.

A fresh data directory gets a deployment root key, two issuers (ES256 Guangdong, SM2 Beijing), a
signed issuer bundle and a signed status list; the travellers are played as a scenario through the
real drivers and their simulators. Where ../shared/corpora is present, an EU DCC and a SMART Health
Card follow, decided with the clock set to their time (the kiosk's clock is injectable).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

from drivers.config import DevicesConfig, SerialScannerConfig
from kiosk.app.run import run_scenario
from kiosk.app.scenario import Step
from kiosk.crypto.keys import EcP256SigningKey, spki_pem
from kiosk.issuer import keys
from kiosk.issuer.bundle import make_bundle
from kiosk.issuer.phic import mint
from kiosk.policy.policy import Policy
from kiosk.trust import sources
from kiosk.trust.store import TrustStore

GAP = 2.5  # seconds between travellers


def _id(first17: str) -> str:
    from drivers.idcard import id_check_digit

    return first17 + id_check_digit(first17)


# Demo resident ID numbers (region, birth date, sequence: odd for men, even for women), check digit added.
ID = {
    name: _id(first17)
    for name, first17 in {
        "zhang": "11010519491231002",
        "li": "44030119900101123",
        "wang": "11010119800101001",
        "zhao": "11010119750101001",
        "qian": "11010119600101001",
        "sun": "11010119500101001",
        "wu": "11010119900307001",
        "zhou": "11010120000101002",
        "zheng": "11010119850101001",
        "feng": "11010119950101001",
    }.items()
}
CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"


def _devices() -> DevicesConfig:
    config = DevicesConfig()
    config.serial_scanner = SerialScannerConfig(backend="sim")
    config.gpio.pulse_seconds = 0.5
    return config


def _policy() -> Policy:
    return Policy(site="Demo checkpoint", result_seconds=1.2, companion_window_seconds=0.5)


def _travellers(
    gd: keys.IssuerKey, bj: keys.IssuerKey, stranger: keys.IssuerKey, now: int, revoked_cti: list[bytes]
) -> list[tuple[str, list[dict]]]:
    def code(key: keys.IssuerKey, colour: str, name: str, number: str, **kw) -> str:
        return mint(key, colour=colour, name=name, id_number=number, now=now, **kw).text

    revoked = mint(gd, colour="green", name="吴十", id_number=ID["wu"], now=now)
    revoked_cti.append(revoked.cti)
    green = code(gd, "green", "张小三", ID["zhang"], vaccinations=3)
    tampered = green[:60] + ("A" if green[60] != "A" else "B") + green[61:]
    return [
        ("green code, Guangdong (ES256)", [{"event": "scan", "text": green}]),
        ("yellow code, Beijing (SM2)", [{"event": "scan", "text": code(bj, "yellow", "李四", ID["li"])}]),
        ("red code", [{"event": "scan", "text": code(gd, "red", "王五", ID["wang"])}]),
        (
            "fever (re-measured)",
            [
                {"event": "temperature", "celsius": 38.3},
                {"event": "scan", "text": code(gd, "green", "赵六", ID["zhao"])},
            ],
        ),
        (
            "expired code",
            [
                {
                    "event": "scan",
                    "text": code(gd, "green", "钱七", ID["qian"], not_before=now - 3 * 86400, valid_hours=24),
                }
            ],
        ),
        (
            "forged code (unknown key)",
            [{"event": "scan", "text": code(stranger, "green", "孙八", ID["sun"])}],
        ),
        ("damaged code", [{"event": "scan", "text": tampered}]),
        ("revoked code", [{"event": "scan", "text": revoked.text}]),
        (
            "ID card only, not on the status list",
            [
                {"event": "card", "id_number": ID["zhou"], "name": "周九"},
                {"event": "card_removed", "dt": 1.5},
            ],
        ),
        (
            "ID card only, red on the status list",
            [
                {"event": "card", "id_number": ID["zheng"], "name": "郑十"},
                {"event": "card_removed", "dt": 1.5},
            ],
        ),
        (
            "code + the wrong ID card",
            [
                {"event": "scan", "text": code(gd, "green", "冯一", ID["feng"])},
                {"event": "card", "id_number": ID["zhou"], "name": "周九", "dt": 0.1},
                {"event": "card_removed", "dt": 1.5},
            ],
        ),
        ("not a health code", [{"event": "scan", "text": "https://example.com/menu"}]),
    ]


def _steps(travellers: list[tuple[str, list[dict]]]) -> tuple[list[Step], list[str]]:
    steps, labels, t = [], [], 0.5
    for label, events in travellers:
        labels.append(label)
        start = t
        for event in events:
            event = dict(event)
            offset = event.pop("dt", 0.0)
            steps.append(Step(start + offset, event.pop("event"), event, len(steps) + 1))
        steps.append(Step(start + GAP - 0.1, "temperature", {"celsius": 36.5}, len(steps) + 1))
        t += GAP
    steps.sort(key=lambda s: s.t)
    return steps, labels


def _table(labels: list[str], outcomes: list[dict]) -> str:
    rows = [f"{'#':>2}  {'traveller':<38} {'decision':<8} {'temp':>5}  reasons"]
    for i, outcome in enumerate(outcomes):
        label = labels[i] if i < len(labels) else ""
        temp = f"{outcome['temperature']:.1f}" if outcome.get("temperature") is not None else "-"
        rows.append(
            f"{i + 1:>2}  {label:<38} {outcome['decision'].upper():<8} {temp:>5}  "
            + ", ".join(outcome["reasons"])
        )
    return "\n".join(rows)


def _collect(outcomes: list[dict]):
    def emit(obj: dict) -> None:
        print(json.dumps(obj, ensure_ascii=False), flush=True)
        if obj.get("type") == "decision":
            outcomes.append(obj)

    return emit


def prepare(base: Path) -> tuple[Path, list[tuple[str, list[dict]]]]:
    """A fresh demo data directory under `base` (keys, bundle, status list) and the travellers."""
    data = base / "data"
    now = int(time.time())
    root = keys.generate("es256", "", root=True)
    gd, bj = keys.generate("es256", "440000"), keys.generate("sm2", "110000")
    stranger = keys.generate("es256", "440000")
    bundle = make_bundle(
        root,
        [(k.iss, k.key.public_key(), {}) for k in (gd, bj)],
        seq=1,
        issued_at=now,
        valid_hours=720,
        names={"440000": "广东省卫生健康委员会", "110000": "北京市卫生健康委员会"},
    )
    revoked_cti: list[bytes] = []
    travellers = _travellers(gd, bj, stranger, now, revoked_cti)
    with TrustStore(data) as store:
        root_pub = root.key.public_key()
        store.import_source(sources.phic_bundle(bundle.encode(), root_pub), now)
        store.pin("phic-root", spki_pem(root_pub.spki_der()))
    _import_status_list(root, data, now, revoked_cti)
    return data, travellers


def run_demo(base: Path | None = None, runner=run_scenario) -> int:
    """`runner` is `run_scenario` (headless) or `kiosk.ui.app.run_with_window` (same arguments)."""
    base = Path(base or tempfile.mkdtemp(prefix="kiosk-demo-"))
    print(f"demo data directory: {base / 'data'}", file=sys.stderr)
    data, travellers = prepare(base)
    steps, labels = _steps(travellers)
    outcomes: list[dict] = []
    status = runner(data, _policy(), _devices(), steps, emit=_collect(outcomes))
    print("\n" + _table(labels, outcomes))
    if CORPORA.is_dir():
        status |= _corpora_phase(base, outcomes, runner)
    return status


def _import_status_list(root: keys.IssuerKey, data: Path, now: int, revoked_cti: list[bytes]) -> None:
    from kiosk.issuer.status_list import make_status_list
    from kiosk.trust.status_list import import_list

    blob = make_status_list(
        root,
        seq=1,
        base_seq=None,
        entries=[(ID["zheng"], "red"), (ID["li"], "yellow")],
        revoked_ctis=revoked_cti,
        issued_at=now,
        valid_hours=72,
    )
    import_list(blob, root.key.public_key(), data, now)


def _corpora_phase(base: Path, outcomes: list[dict], runner=run_scenario) -> int:
    """An EU DCC and a SMART Health Card from the outside corpora, at their own time."""
    dcc_doc = json.loads((CORPORA / "dgc-testdata/AT/2DCode/raw/1.json").read_text())
    shc_text = (CORPORA / "shc/spec-examples/example-00-f-qr-code-numeric-value-0.txt").read_text().strip()
    status = 0
    for label, text, when, trust in (
        (
            "EU DCC (AT test certificate)",
            dcc_doc["PREFIX"],
            dt.datetime.fromisoformat(
                dcc_doc["TESTCTX"]["VALIDATIONCLOCK"].replace("Z", "+00:00")
            ).timestamp(),
            lambda store, at: _demo_dsc_list(store, base64.b64decode(dcc_doc["TESTCTX"]["CERTIFICATE"]), at),
        ),
        (
            "SMART Health Card (spec example 00)",
            shc_text,
            1_688_169_600.0,
            lambda store, at: store.import_source(
                sources.jwks(
                    (CORPORA / "shc/spec-examples/issuer/.well-known/jwks.json").read_bytes(),
                    "https://spec.smarthealth.cards/examples/issuer",
                    now=int(at),
                ),
                at,
            ),
        ),
    ):
        data = base / f"data-{hashlib.sha256(label.encode()).hexdigest()[:6]}"
        with TrustStore(data) as store:
            trust(store, when)
        phase: list[dict] = []
        offset = time.time() - when
        steps = [Step(0.5, "temperature", {"celsius": 36.6}, 1), Step(0.6, "scan", {"text": text}, 2)]
        status |= runner(
            data,
            _policy(),
            _devices(),
            steps,
            emit=_collect(phase),
            clock=lambda offset=offset: time.time() - offset,
        )
        outcomes += phase
        print(_table([label], phase).split("\n", 1)[1].replace(" 1  ", f"{len(outcomes):>2}  ", 1))
    return status


def _demo_dsc_list(store: TrustStore, certificate: bytes, at: float) -> None:
    """A signer list in the DSC-list format, signed by a demo list key, holding one test signer."""
    signer = EcP256SigningKey.generate()
    kid = base64.b64encode(hashlib.sha256(certificate).digest()[:8]).decode()
    when = dt.datetime.fromtimestamp(at, dt.UTC).isoformat()
    body = json.dumps(
        {
            "certificates": [
                {
                    "certificateType": "DSC",
                    "country": "AT",
                    "kid": kid,
                    "rawData": base64.b64encode(certificate).decode(),
                    "signature": "",
                    "thumbprint": "",
                    "timestamp": when,
                }
            ]
        }
    ).encode()
    blob = base64.b64encode(signer.sign(body)) + b"\n" + body
    store.import_source(sources.dsc_list(blob, signer.public_key()), at)
