"""What the operator does to a hub, as functions (the `kiosk hub ...` commands and the tests call them).

A hub directory holds the root key (`root-key.pem`, 0600), the SQLite database (`hub.sqlite`, unless
the hub uses PostgreSQL) and the published status-list files (`status-lists/`). Every function that
publishes signs with the root key and records the result in the database in one transaction.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.crypto.jws import sign_compact
from kiosk.crypto.keys import kid8, public_key_from_spki, spki_pem
from kiosk.fileio import fsync_dir
from kiosk.hub.db import HubDB, next_seq
from kiosk.issuer import keys as issuer_keys
from kiosk.issuer.bundle import make_bundle
from kiosk.issuer.keys import IssuerKey

ROOT_KEY_FILE = "root-key.pem"
STATUS_DIR = "status-lists"
POLICY_TYP = "kiosk-policy+jws"
DEFAULT_SITE = "*"
DEFAULT_CODE_HOURS = 24.0
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # as `kiosk provision --device-name`
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed on a keypad
CODE_CHARS = 16  # 80 bits


class HubAdminError(ValueError):
    """A problem the operator can fix; the message says how."""


# --- the hub directory ------------------------------------------------------------------------------


def root_key_path(hub_dir: str | os.PathLike) -> Path:
    return Path(hub_dir) / ROOT_KEY_FILE


def load_root(hub_dir: str | os.PathLike) -> IssuerKey:
    path = root_key_path(hub_dir)
    if not path.exists():
        raise HubAdminError(f"{hub_dir} has no {ROOT_KEY_FILE}: run `kiosk hub init --dir {hub_dir}` first")
    key = issuer_keys.load(path)
    if key.role != "root":
        raise HubAdminError(f"{path} is not a root key (make one with `kiosk issuer keygen --root`)")
    return key


def root_public_pem(root: IssuerKey) -> str:
    return spki_pem(root.key.public_key().spki_der()).decode("ascii")


def fingerprint(root: IssuerKey) -> str:
    """SHA-256 of the root's SubjectPublicKeyInfo, hex: what a technician compares when pinning."""
    return hashlib.sha256(root.key.public_key().spki_der()).hexdigest()


@dataclass(frozen=True, slots=True)
class InitResult:
    root: IssuerKey
    created_key: bool


def init_hub(
    hub_dir: str | os.PathLike, root_key: str | os.PathLike | None = None, database_url: str | None = None
) -> InitResult:
    """Create the hub directory (0700), its root key (new, or a copy of `root_key`) and the database.
    Running it again on an initialised hub changes nothing (a different `root_key` is refused)."""
    hub = Path(hub_dir)
    hub.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(hub, 0o700)
    (hub / STATUS_DIR).mkdir(mode=0o700, exist_ok=True)
    path = root_key_path(hub)
    created = False
    if root_key is not None:
        given = issuer_keys.load(root_key)
        if given.role != "root":
            raise HubAdminError(f"{root_key} is not a root key (make one with `kiosk issuer keygen --root`)")
        if path.exists():
            if load_root(hub).key.public_key().spki_der() != given.key.public_key().spki_der():
                raise HubAdminError(f"{hub} already has a different root key; refusing to replace it")
        else:
            issuer_keys.save(given, path)
            created = True
    elif not path.exists():
        issuer_keys.save(issuer_keys.generate("es256", "", root=True), path)
        created = True
    root = load_root(hub)
    HubDB(hub, database_url).close()
    return InitResult(root, created)


def _check_site(site: str | None) -> str | None:
    if site is None:
        return None
    site = " ".join(site.split())
    if not site or len(site) > 100 or site == DEFAULT_SITE or not site.isprintable():
        raise HubAdminError(f"site {site!r}: 1-100 printable characters, not {DEFAULT_SITE!r}")
    return site


def check_device_id(device_id: str) -> str:
    if not isinstance(device_id, str) or not DEVICE_ID.fullmatch(device_id):
        raise HubAdminError(f"device id {device_id!r}: 1-64 letters, digits, '.', '_' or '-'")
    return device_id


# --- enrolment codes --------------------------------------------------------------------------------


def normalize_code(code: str) -> str:
    """Codes are compared without dashes, spaces and case."""
    return "".join(code.split()).replace("-", "").upper()


def code_hash(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode("utf-8")).hexdigest()


def make_enroll_code(
    db: HubDB,
    *,
    device_id: str | None = None,
    site: str | None = None,
    hours: float = DEFAULT_CODE_HOURS,
    now: float | None = None,
) -> str:
    """A new one-time enrolment code (shown once; only its SHA-256 is stored)."""
    if device_id is not None:
        check_device_id(device_id)
    site = _check_site(site)
    if not 0 < hours <= 24 * 365:
        raise HubAdminError("--hours must be more than 0 and at most a year")
    now = time.time() if now is None else now
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_CHARS))
    code = "-".join(raw[i : i + 4] for i in range(0, CODE_CHARS, 4))
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO enroll_codes (code_sha256, device_id, site, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (code_hash(code), device_id, site, now, now + hours * 3600),
        )
    return code


# --- issuers and bundles ----------------------------------------------------------------------------


def _code_types(text: str | None) -> list[str] | None:
    if not text:
        return None
    tokens = text.replace(",", " ").split()
    if len(tokens) == 1 and len(tokens[0]) > 1:  # "dp" as `kiosk issuer bundle --code-types` takes it
        tokens = list(tokens[0])
    types = sorted(set(tokens))
    if not types or any(t not in ("d", "p", "a") for t in types):
        raise HubAdminError(f"--code-types {text!r}: a comma list of d (dynamic), p (paper), a (assisted)")
    return types


def add_issuer(
    db: HubDB,
    iss: str,
    key_path: str | os.PathLike,
    *,
    name: str | None = None,
    code_types: str | None = None,
    not_before: int | None = None,
    not_after: int | None = None,
    now: float | None = None,
) -> str:
    """Add (or update) one issuer key; returns its kid (hex). Published with the next bundle."""
    issuer_keys.check_region(iss)
    public, headers = issuer_keys.load_public(key_path)
    if headers.get("Kiosk-Role") == "root":
        raise HubAdminError(f"{key_path} is a root key, not an issuer key")
    if headers.get("Kiosk-Issuer") and headers["Kiosk-Issuer"] != iss:
        raise HubAdminError(f"{key_path} is the key of issuer {headers['Kiosk-Issuer']}, not {iss}")
    if name is not None and (not name.strip() or len(name) > 200):
        raise HubAdminError("--name: 1-200 characters")
    if not_before is not None and not_after is not None and not_after <= not_before:
        raise HubAdminError("--not-after must be after --not-before")
    types = _code_types(code_types)
    spki = public.spki_der()
    kid = kid8(spki).hex()
    now = time.time() if now is None else now
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO issuers (iss, name, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (iss, name, now),
        )
        if name is not None:
            tx.execute("UPDATE issuers SET name = ? WHERE iss = ?", (name, iss))
        row = tx.one("SELECT iss FROM issuer_keys WHERE kid = ?", (kid,))
        if row is not None and row[0] != iss:
            raise HubAdminError(f"key {kid} is already registered for issuer {row[0]}")
        fields = (",".join(types) if types else None, not_before, not_after)
        if row is None:
            tx.execute(
                "INSERT INTO issuer_keys (kid, iss, alg, spki, code_types, not_before, not_after, added_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (kid, iss, public.alg, base64.b64encode(spki).decode(), *fields, now),
            )
        else:
            tx.execute(
                "UPDATE issuer_keys SET code_types = ?, not_before = ?, not_after = ? WHERE kid = ?",
                (*fields, kid),
            )
    return kid


def remove_issuer(db: HubDB, iss: str, kid: str | None = None) -> int:
    """Remove one key (`kid`) or every key of an issuer; returns the keys removed."""
    with db.transaction() as tx:
        if kid is not None:
            removed = tx.execute("DELETE FROM issuer_keys WHERE iss = ? AND kid = ?", (iss, kid.lower()))
        else:
            removed = tx.execute("DELETE FROM issuer_keys WHERE iss = ?", (iss,))
        if tx.one("SELECT COUNT(*) FROM issuer_keys WHERE iss = ?", (iss,))[0] == 0:  # type: ignore[index]
            tx.execute("DELETE FROM issuers WHERE iss = ?", (iss,))
    if not removed:
        raise HubAdminError(f"no key {kid} of issuer {iss}" if kid else f"no issuer {iss}")
    return removed


def list_issuers(db: HubDB) -> list[dict[str, Any]]:
    with db.reader() as r:
        rows = r.all(
            "SELECT k.iss, i.name, k.kid, k.alg, k.code_types, k.not_before, k.not_after, k.added_at "
            "FROM issuer_keys k LEFT JOIN issuers i ON i.iss = k.iss ORDER BY k.iss, k.added_at, k.kid"
        )
    return [
        {
            "iss": iss,
            "name": name,
            "kid": kid,
            "alg": alg,
            "code_types": types.split(",") if types else None,
            "not_before": nb,
            "not_after": na,
            "added_at": added,
        }
        for iss, name, kid, alg, types, nb, na, added in rows
    ]


@dataclass(frozen=True, slots=True)
class Published:
    seq: int
    detail: str


def publish_bundle(
    db: HubDB, root: IssuerKey, *, valid_hours: float = 168, now: float | None = None
) -> Published:
    """Sign the issuer tables as the next PHIC bundle. Its seq is the publication time in seconds
    (or the last seq + 1), so it is newer than any bundle `kiosk issuer bundle` made for provisioning."""
    if not 0 < valid_hours <= 24 * 366:
        raise HubAdminError("--valid-hours must be more than 0 and at most a year")
    now = time.time() if now is None else now
    with db.transaction() as tx:
        rows = tx.all(
            "SELECT k.iss, i.name, k.spki, k.code_types, k.not_before, k.not_after "
            "FROM issuer_keys k LEFT JOIN issuers i ON i.iss = k.iss ORDER BY k.iss, k.added_at, k.kid"
        )
        if not rows:
            raise HubAdminError("no issuer keys: add one with `kiosk hub issuer add ISS --key PUBLIC.pem`")
        issuers = []
        names: dict[str, str] = {}
        for iss, name, spki, types, nb, na in rows:
            extra: dict[str, Any] = {}
            if types:
                extra["code_types"] = types.split(",")
            if nb is not None:
                extra["not_before"] = int(nb)
            if na is not None:
                extra["not_after"] = int(na)
            issuers.append((iss, public_key_from_spki(base64.b64decode(spki)), extra))
            if name:
                names[iss] = name
        seq = next_seq(tx, "bundles", floor=int(now))
        jws = make_bundle(root, issuers, seq=seq, issued_at=int(now), valid_hours=valid_hours, names=names)
        tx.execute(
            "INSERT INTO bundles (seq, issued_at, valid_until, keys, sha256, jws, published_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                int(now),
                int(now) + int(valid_hours * 3600),
                len(rows),
                hashlib.sha256(jws.encode()).hexdigest(),
                jws,
                now,
            ),
        )
    return Published(seq, f"bundle seq {seq}: {len(rows)} issuer keys, valid {valid_hours:g} h")


# --- status lists -----------------------------------------------------------------------------------


def publish_status_list(
    db: HubDB,
    hub_dir: str | os.PathLike,
    root: IssuerKey,
    path: str | os.PathLike,
    *,
    now: float | None = None,
) -> Published:
    """Check a status-list transport file (signature by this hub's root, body digest and length, a seq
    newer than every published one), copy it into `status-lists/` atomically and record it."""
    from kiosk.trust.sources import TrustError
    from kiosk.trust.status_list import CTI_SIZE, ENTRY_SIZE, MAX_HEADER, parse_header

    now = time.time() if now is None else now
    directory = Path(hub_dir) / STATUS_DIR
    directory.mkdir(mode=0o700, exist_ok=True)
    try:
        src = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise HubAdminError(f"cannot read status list {path}: {exc.strerror}") from None
    tmp: Path | None = None
    try:
        line = src.readline(MAX_HEADER + 1)
        if not line.endswith(b"\n"):
            raise HubAdminError(f"{path}: not a status list (no header line)")
        try:
            head = parse_header(line, root.key.public_key())
        except TrustError as exc:
            raise HubAdminError(f"{path}: {exc} (is it signed by this hub's root key?)") from None
        size = os.fstat(src.fileno()).st_size
        body_size = head.entries * ENTRY_SIZE + head.ctis * CTI_SIZE
        if size != len(line) + body_size:
            raise HubAdminError(f"{path}: {size} bytes, but the header says {len(line) + body_size}")
        if head.valid_until <= now:
            raise HubAdminError(f"{path}: status list seq {head.seq} has already expired")
        with db.reader() as r:
            newest = r.one("SELECT MAX(seq) FROM status_lists")[0]  # type: ignore[index]
        if newest is not None and head.seq <= newest:
            raise HubAdminError(f"{path}: seq {head.seq} is not newer than the published seq {newest}")
        fd, name = tempfile.mkstemp(dir=directory, prefix=".publish-")
        tmp = Path(name)
        whole, body = hashlib.sha256(line), hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            out.write(line)
            while chunk := src.read(1 << 20):
                whole.update(chunk)
                body.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if body.digest() != head.body_sha256:
            raise HubAdminError(f"{path}: the body does not match its signed digest (corrupted?)")
        os.chmod(tmp, 0o600)
        file_name = f"{head.seq}-full.ksl" if head.kind == "full" else f"{head.seq}-delta-{head.base_seq}.ksl"
        final = directory / file_name
        with db.transaction() as tx:
            newest = tx.one("SELECT MAX(seq) FROM status_lists")[0]  # type: ignore[index]
            if newest is not None and head.seq <= newest:
                raise HubAdminError(f"{path}: seq {head.seq} is not newer than the published seq {newest}")
            tx.execute(
                "INSERT INTO status_lists (seq, base_seq, kind, sha256, size, file_name, issued_at, "
                "valid_until, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    head.seq,
                    head.base_seq,
                    head.kind,
                    whole.hexdigest(),
                    size,
                    file_name,
                    head.issued_at,
                    head.valid_until,
                    now,
                ),
            )
            os.replace(tmp, final)  # inside the transaction: a failed commit removes the file below
            tmp = final
            fsync_dir(directory)
        tmp = None
    finally:
        src.close()
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    base = f" on seq {head.base_seq}" if head.base_seq is not None else ""
    return Published(
        head.seq, f"status list seq {head.seq} ({head.kind}{base}): {head.entries} entries, {size} bytes"
    )


def status_list_file(hub_dir: str | os.PathLike, file_name: str) -> Path:
    return Path(hub_dir) / STATUS_DIR / file_name


# --- policies ---------------------------------------------------------------------------------------


def publish_policy(
    db: HubDB, root: IssuerKey, path: str | os.PathLike, *, site: str | None = None, now: float | None = None
) -> Published:
    """Validate a policy TOML file and publish it, signed by the root, for `site` (default: every site
    without its own policy)."""
    from kiosk.policy.policy import parse_policy

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HubAdminError(f"cannot read policy {path}: {exc}") from None
    if len(text) > 256 * 1024:
        raise HubAdminError(f"{path}: a policy file is at most 256 KiB")
    parse_policy(text, str(path))  # PolicyError (a ValueError) names the problem
    site = _check_site(site) or DEFAULT_SITE
    now = time.time() if now is None else now
    with db.transaction() as tx:
        seq = next_seq(tx, "policies", floor=int(now))
        doc = {"seq": seq, "issued_at": int(now), "site": site, "policy": text}
        jws = sign_compact(
            json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(), root.key, typ=POLICY_TYP
        )
        tx.execute(
            "INSERT INTO policies (seq, site, sha256, jws, published_at) VALUES (?, ?, ?, ?, ?)",
            (seq, site, hashlib.sha256(jws.encode()).hexdigest(), jws, now),
        )
    return Published(seq, f"policy seq {seq} for site {site!r}")


# --- devices ----------------------------------------------------------------------------------------


def list_devices(db: HubDB) -> list[dict[str, Any]]:
    return [d.as_dict() for d in db.devices()]


def revoke_device(db: HubDB, device_id: str, *, now: float | None = None) -> None:
    if not db.revoke_device(device_id, time.time() if now is None else now):
        raise HubAdminError(f"no device {device_id!r}")


@dataclass(frozen=True, slots=True)
class Purged:
    registrations: int
    status_lists: int

    def as_dict(self) -> dict[str, int]:
        return {"registrations": self.registrations, "status_lists": self.status_lists}


def purge(db: HubDB, hub_dir: str | os.PathLike, days: float, now: float | None = None) -> Purged:
    """Retention on the hub: registrations received more than `days` ago (only those every kiosk has
    been acknowledged for), and status-list files older than the newest full list."""
    if not 1 <= days <= 3660:
        raise HubAdminError("--days must be 1-3660")
    now = time.time() if now is None else now
    rows = db.purge_registrations(now - days * 86400)
    directory = Path(hub_dir) / STATUS_DIR
    lists = 0
    for seq, name in db.superseded_status_lists():
        db.forget_status_list(seq)  # first the row: a request never meets a row without its file
        (directory / name).unlink(missing_ok=True)
        lists += 1
    if lists:
        fsync_dir(directory)
    return Purged(rows, lists)


def accept_gap(db: HubDB, device_id: str, through: int) -> int:
    """Let a device's `stored_through` continue past rows the hub lost (returns the new watermark)."""
    if through < 0:
        raise HubAdminError("--through must be a non-negative seq")
    acked = db.accept_gap(device_id, through)
    if acked is None:
        raise HubAdminError(f"no device {device_id!r}")
    return acked
