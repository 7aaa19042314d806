"""Kiosk-side sync with the hub: enrolment, pulling signed trust and policy, pushing registrations.

See docs/sync.md and the contract docs/hub-protocol.md.
"""

from kiosk.sync.client import SyncClient, SyncResult, backoff_delay
from kiosk.sync.enroll import EnrollError, enroll, fingerprint
from kiosk.sync.state import HubConfig, NotEnrolled, SyncState, read_hub, read_state
from kiosk.sync.transport import SyncError

__all__ = [
    "EnrollError",
    "HubConfig",
    "NotEnrolled",
    "SyncClient",
    "SyncError",
    "SyncResult",
    "SyncState",
    "backoff_delay",
    "enroll",
    "fingerprint",
    "read_hub",
    "read_state",
]
