"""Which site policy `kiosk run` uses: the hub's verified copy when there is one, else the local file."""

from __future__ import annotations

from kiosk.app.hubsync import HubSync, site_policy


def test_local_policy_without_a_hub_copy(tmp_path):
    local = tmp_path / "policy.toml"
    local.write_text('site = "东门 East gate"\nfever_threshold = 37.5\n')
    policy = site_policy(tmp_path, local)
    assert policy.site == "东门 East gate" and policy.fever_threshold == 37.5


def test_the_hub_copy_wins(tmp_path):
    local = tmp_path / "policy.toml"
    local.write_text('site = "local"\n')
    (tmp_path / "hub-policy.toml").write_text(
        '# hub policy seq 3\nsite = "from the hub"\nfever_threshold = 37.2\n'
    )
    policy = site_policy(tmp_path, local)
    assert policy.site == "from the hub" and policy.fever_threshold == 37.2


def test_a_damaged_hub_copy_falls_back_loudly(tmp_path, capsys):
    local = tmp_path / "policy.toml"
    local.write_text('site = "local"\n')
    (tmp_path / "hub-policy.toml").write_text("fever_celsius = 'hot'\n")
    assert site_policy(tmp_path, local).site == "local"
    assert "ignoring" in capsys.readouterr().err
    (tmp_path / "hub-policy.toml").write_bytes(b"\xff\xfe")
    assert site_policy(tmp_path, local).site == "local"


def test_no_sync_thread_when_not_enrolled(tmp_path):
    assert HubSync.start_if_enrolled(tmp_path, None, None, None) is None
