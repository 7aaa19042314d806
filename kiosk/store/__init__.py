"""Registrations (append-only, durable), the sync outbox, the guard audit log, retention, exports.

Mask names and ID numbers with `kiosk.codes.masking` before building a `Registration`; the store
re-checks that they are masked and refuses anything that looks like a full ID number or a payload.
"""

from kiosk.store.hashing import KeyedHasher, load_or_create_key
from kiosk.store.model import (
    AUDIT_EXPORT,
    AUDIT_MANUAL_OPEN,
    AUDIT_OVERRIDE_DENY,
    AUDIT_OVERRIDE_PASS,
    AUDIT_SILENCE,
    DECISIONS,
    FEVER,
    FORMATS,
    METHODS,
    AuditEntry,
    Counts,
    PurgeResult,
    Registration,
    check_text,
)
from kiosk.store.registrations import (
    DB_FILE,
    DEFAULT_AUDIT_DAYS,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_TZ,
    RegistrationStore,
    export_to_string,
)

__all__ = [
    "AUDIT_EXPORT",
    "AUDIT_MANUAL_OPEN",
    "AUDIT_OVERRIDE_DENY",
    "AUDIT_OVERRIDE_PASS",
    "AUDIT_SILENCE",
    "DB_FILE",
    "DECISIONS",
    "DEFAULT_AUDIT_DAYS",
    "DEFAULT_RETENTION_DAYS",
    "DEFAULT_TZ",
    "FEVER",
    "FORMATS",
    "METHODS",
    "AuditEntry",
    "Counts",
    "KeyedHasher",
    "PurgeResult",
    "Registration",
    "RegistrationStore",
    "check_text",
    "export_to_string",
    "load_or_create_key",
]
