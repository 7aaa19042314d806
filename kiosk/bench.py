"""`kiosk bench`: throughput as ratios against a bare baseline measured in the same process.

Machines are noisy, so each benchmark alternates short batches of the measured operation and its
baseline and reports medians; the ratio is what to compare across machines, not the raw rates.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from kiosk.codes import Format, KeyRing, TrustedKey, cose, verify_code
from kiosk.codes.base45 import b45decode, b45encode
from kiosk.crypto.keys import EcP256SigningKey, b64url_encode, jwk_thumbprint
from kiosk.issuer import keys as issuer_keys
from kiosk.issuer.phic import mint

NOW = 1_795_600_000
_ECDSA = ec.ECDSA(hashes.SHA256())


@dataclass
class Case:
    name: str
    run: Callable[[], object]
    baseline_name: str
    baseline: Callable[[], object]


def _bare_ecdsa(key: EcP256SigningKey, signature: bytes, data: bytes) -> Callable[[], object]:
    """The baseline: one `cryptography` P-256 verify of the same signature over the same bytes."""
    public = key.key.public_key()
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    return lambda: public.verify(der, data, _ECDSA)


def _phic_case() -> Case:
    issuer = issuer_keys.generate("es256", "440000")
    minted = mint(
        issuer, colour="green", name="张小三", id_number="11010519491231002X", now=NOW, vaccinations=3
    )
    ring = KeyRing()
    ring.add(TrustedKey(Format.PHIC, issuer.kid, issuer.key.public_key(), "440000"))
    msg = cose.parse_sign1(zlib.decompress(b45decode(minted.text[5:])))
    text = minted.text.encode()
    return Case(
        "verify.phic",
        lambda: verify_code(text, ring, NOW),
        "cryptography ECDSA P-256 verify",
        _bare_ecdsa(issuer.key, msg.signature, msg.to_be_signed()),
    )


def _phic_sm2_case() -> Case | None:
    from kiosk.crypto import sm2

    if not sm2.available():
        return None
    issuer = issuer_keys.generate("sm2", "440000")
    minted = mint(issuer, colour="green", name="张小三", id_number="11010519491231002X", now=NOW)
    ring = KeyRing()
    ring.add(TrustedKey(Format.PHIC, issuer.kid, issuer.key.public_key(), "440000"))
    msg = cose.parse_sign1(zlib.decompress(b45decode(minted.text[5:])))
    public, tbs, sig = issuer.key.key.public_key(), msg.to_be_signed(), msg.signature
    text = minted.text.encode()
    return Case(
        "verify.phic.sm2",
        lambda: verify_code(text, ring, NOW),
        "OpenSSL SM2 verify",
        lambda: public.verify(sig, tbs),
    )


DCC_SAMPLE = {
    "ver": "1.3.0",
    "nam": {"fn": "Musterfrau", "fnt": "MUSTERFRAU", "gn": "Gabriele", "gnt": "GABRIELE"},
    "dob": "1998-02-26",
    "v": [
        {
            "tg": "840539006",
            "vp": "1119349007",
            "mp": "EU/1/20/1528",
            "ma": "ORG-100030215",
            "dn": 2,
            "sd": 2,
            "dt": "2021-02-18",
            "co": "AT",
            "is": "Ministry of Health, Austria",
            "ci": "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B",
        }
    ],
}


def _dcc_case() -> Case:
    key = EcP256SigningKey.generate()
    kid = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    claims = {1: "AT", 6: NOW - 3600, 4: NOW + 86400 * 180, -260: {1: DCC_SAMPLE}}
    message = cose.encode_sign1({1: -7, 4: kid}, cbor2.dumps(claims), key.sign)
    text = b"HC1:" + b45encode(zlib.compress(message, 9)).encode()
    ring = KeyRing()
    ring.add(TrustedKey(Format.DCC, kid, key.public_key(), "AT"))
    msg = cose.parse_sign1(message)
    return Case(
        "verify.dcc",
        lambda: verify_code(text, ring, NOW),
        "cryptography ECDSA P-256 verify",
        _bare_ecdsa(key, msg.signature, msg.to_be_signed()),
    )


def _shc_case() -> Case:
    from kiosk.codes.shc import jws_to_numeric

    key = EcP256SigningKey.generate()
    nums = key.key.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(nums.x.to_bytes(32, "big")),
        "y": b64url_encode(nums.y.to_bytes(32, "big")),
    }
    kid = jwk_thumbprint(jwk)
    iss = "https://spec.smarthealth.cards/examples/issuer"
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "resource:0",
                "resource": {
                    "resourceType": "Patient",
                    "name": [{"family": "Anyperson", "given": ["John", "B."]}],
                    "birthDate": "1951-01-20",
                },
            },
            *[
                {
                    "fullUrl": f"resource:{i}",
                    "resource": {
                        "resourceType": "Immunization",
                        "status": "completed",
                        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "207"}]},
                        "patient": {"reference": "resource:0"},
                        "occurrenceDateTime": f"2021-0{i}-01",
                        "performer": [{"actor": {"display": "ABC General Hospital"}}],
                        "lotNumber": "0000001",
                    },
                }
                for i in (1, 2)
            ],
        ],
    }
    payload = {
        "iss": iss,
        "nbf": NOW - 3600,
        "vc": {
            "type": ["https://smarthealth.cards#health-card"],
            "credentialSubject": {"fhirVersion": "4.0.1", "fhirBundle": bundle},
        },
    }
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = compressor.compress(json.dumps(payload, separators=(",", ":")).encode()) + compressor.flush()
    head = b64url_encode(
        json.dumps({"zip": "DEF", "alg": "ES256", "kid": kid}, separators=(",", ":")).encode()
    )
    signing_input = f"{head}.{b64url_encode(body)}".encode()
    signature = key.sign(signing_input)
    text = ("shc:/" + jws_to_numeric(f"{signing_input.decode()}.{b64url_encode(signature)}")).encode()
    ring = KeyRing()
    ring.add(TrustedKey(Format.SHC, kid.encode(), key.public_key(), iss))
    return Case(
        "verify.shc",
        lambda: verify_code(text, ring, NOW),
        "cryptography ECDSA P-256 verify",
        _bare_ecdsa(key, signature, signing_input),
    )


def cases() -> list[Case]:
    from drivers.scanner.bench import bench_cases
    from kiosk.bench_store import bench_cases as store_cases

    found = [_phic_case(), _phic_sm2_case(), _dcc_case(), _shc_case(), *bench_cases(), *store_cases()]
    return [c for c in found if c is not None]


def _batch_rate(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def measure(case: Case, seconds: float = 1.0) -> dict:
    """Alternate batches of the case and its baseline for about `seconds` each; medians of rates."""
    case.run(), case.baseline()  # warm caches (schema compilation, imports)
    n = 1
    while True:  # batch size for ~20 ms
        start = time.perf_counter()
        for _ in range(n):
            case.run()
        if time.perf_counter() - start > 0.02 or n > 100_000:
            break
        n *= 2
    rounds = max(3, int(seconds / 0.04))
    runs, bases = [], []
    for _ in range(rounds):
        runs.append(_batch_rate(case.run, n))
        bases.append(_batch_rate(case.baseline, n))
    ops, base = statistics.median(runs), statistics.median(bases)
    return {
        "name": case.name,
        "ops_per_s": round(ops, 1),
        "baseline": case.baseline_name,
        "baseline_ops_per_s": round(base, 1),
        "ratio": round(ops / base, 3),
    }


def run(prefixes: list[str], seconds: float = 1.0) -> list[dict]:
    from kiosk.bench_status import run as run_status

    selected = [c for c in cases() if not prefixes or any(c.name.startswith(p) for p in prefixes)]
    results = []
    for i, case in enumerate(selected, 1):
        print(f"[{i}/{len(selected)}] {case.name} ...", file=sys.stderr, flush=True)
        results.append(measure(case, seconds))
    results.extend(run_status(prefixes, seconds))  # builds (once, cached) a 10-million-entry list
    from kiosk.bench_sync import run as run_sync

    results.extend(run_sync(prefixes, seconds))  # a hub process, 100k-row drains (20k when seconds < 0.5)
    return results


def run_cli(prefixes: list[str], *, as_json: bool, seconds: float) -> int:
    results = run(prefixes, seconds)
    if not results:
        print(f"no benchmark matches {' '.join(prefixes)}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps({"benchmarks": results}))
    else:
        print(f"{'benchmark':<28} {'ops/s':>10} {'baseline ops/s':>15} {'ratio':>7}  baseline")
        for r in results:
            print(
                f"{r['name']:<18} {r['ops_per_s']:>10.0f} {r['baseline_ops_per_s']:>15.0f} {r['ratio']:>7.3f}  {r['baseline']}"
            )
    return 0
