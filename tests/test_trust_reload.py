"""A running checkpoint picks up trust imports without a restart (kiosk/app/run.py TrustView)."""

from __future__ import annotations

import time

from kiosk.app.run import TrustView
from kiosk.codes.model import Format
from kiosk.issuer.bundle import make_bundle
from kiosk.issuer.status_list import make_status_list
from kiosk.trust import sources, status_list
from kiosk.trust.store import TrustStore


def _import_bundle(data_dir, root, issuers, seq):
    now = int(time.time())
    token = make_bundle(
        root,
        [(iss, key.key.public_key(), {}) for iss, key in issuers],
        seq=seq,
        issued_at=now,
        valid_hours=24,
    )
    with TrustStore(data_dir) as store:
        store.import_source(sources.phic_bundle(token.encode(), root.key.public_key()), now)


def test_a_new_bundle_and_a_status_list_take_effect_in_a_running_view(
    tmp_path, root_key, es256_issuer, sm2_issuer
):
    _import_bundle(tmp_path, root_key, [("440000", es256_issuer)], 1)
    view = TrustView(tmp_path, recheck=0.0)
    ring = view.keyring()
    assert ring.keys(Format.PHIC, es256_issuer.kid)
    assert not ring.keys(Format.PHIC, sm2_issuer.kid)
    assert view.status_list is None and ring.phic_revoked is None
    assert view.status_lookup("110101199003070011") is None

    _import_bundle(tmp_path, root_key, [("440000", es256_issuer), ("110000", sm2_issuer)], 2)
    fresh = view.keyring()
    assert fresh is not ring, "the view reloads after an import"
    assert fresh.keys(Format.PHIC, sm2_issuer.kid)
    assert ring.keys(Format.PHIC, sm2_issuer.kid) == [], (
        "the old ring is not changed under a running decision"
    )

    now = int(time.time())
    data = make_status_list(root_key, 1, None, [("110101199003070011", "red")], [b"\x01" * 16], now)
    status_list.import_list(data, root_key.key.public_key(), tmp_path, now)
    assert view.status_lookup("110101199003070011") == "red"
    assert view.keyring().phic_revoked is not None
    assert view.keyring().phic_is_revoked(b"\x01" * 16) is True
    assert view.age_hours(now + 3600, "status-list") is not None


def test_without_changes_the_same_ring_is_kept(tmp_path, root_key, es256_issuer):
    _import_bundle(tmp_path, root_key, [("440000", es256_issuer)], 1)
    view = TrustView(tmp_path, recheck=0.0)
    ring = view.keyring()
    for _ in range(5):
        assert view.keyring() is ring
