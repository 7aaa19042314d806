#!/usr/bin/env bash
# provision-usb: provision this kiosk from a USB stick labelled KIOSK-PROV, once.
# Installed as /usr/lib/healthcode-kiosk/provision-usb; run by healthcode-provision.service at boot and
# when such a stick is plugged in. See docs/technician.md ("Provision from a USB stick").
#
# The stick (FAT32, exFAT or ext4, label KIOSK-PROV) holds a provisioning bundle, either at its top or
# in a folder `kiosk/`: root.pem, bundle.jws, optionally status-list.ksl, list-key, policy.toml,
# devices.toml (kiosk/provision.py), and optionally provision.conf, KEY=VALUE lines:
#   DEVICE_NAME=northgate-01    this kiosk's id; the word `hostname` takes this machine's host name
#   SITE=North gate             the site's name shown by `kiosk status`
#   HUB_URL=https://hub.example.org   with ENROLL_CODE: enrol with the hub after provisioning
#   ENROLL_CODE=...             one-time code from `kiosk hub enroll-code`
#   ROOT_FINGERPRINT=...        optional: the deployment root's fingerprint the hub must present
# Lines are read, never executed; other keys are refused.
#
# Steps: skip when already done (the marker exists, or a deployment root is already pinned: then the
# marker is written and nothing else happens); mount the stick read-only; `kiosk provision --bundle`;
# `kiosk sync enroll` as the kiosk user when the stick names a hub; write the marker
# DATA_DIR/provisioned-from-usb; restart the kiosk if it was running.
#
#   provision-usb [--source DIR] [--root DIR] [--kiosk EXE] [--user NAME] [--no-restart]
#     --source DIR   use this directory instead of mounting the stick (tests, a stick mounted by hand)
#     --root DIR     prefix for the data and config directories (tests against a disposable root)
#     --kiosk EXE    the kiosk command (default /usr/lib/healthcode-kiosk/venv/bin/kiosk)
# Exit status: 0 provisioned (or nothing to do), 1 provisioning refused or enrolment failed, 2 usage.
set -euo pipefail

NAME=healthcode-kiosk
LABEL="KIOSK-PROV"
SOURCE=""
ROOT=""
KIOSK=/usr/lib/$NAME/venv/bin/kiosk
KIOSK_USER=$NAME
RESTART=1
ENROLL_WAIT=${PROVISION_ENROLL_WAIT:-120}   # seconds to keep retrying an enrolment (network coming up)

usage() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
  exit "${1:-0}"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --source) [ $# -ge 2 ] || usage 2; SOURCE=$2; shift 2 ;;
    --root) [ $# -ge 2 ] || usage 2; ROOT=$(realpath -m "$2"); shift 2 ;;
    --kiosk) [ $# -ge 2 ] || usage 2; KIOSK=$2; shift 2 ;;
    --user) [ $# -ge 2 ] || usage 2; KIOSK_USER=$2; shift 2 ;;
    --no-restart) RESTART=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "provision-usb: unknown option $1" >&2; usage 2 ;;
  esac
done

DATA_DIR=$ROOT/var/lib/$NAME
CONFIG_DIR=$ROOT/etc/$NAME
MARKER=$DATA_DIR/provisioned-from-usb

say() { echo "provision-usb: $*"; }

# write_marker TEXT: the "done" marker, owned like the data directory
write_marker() {
  mkdir -p "$DATA_DIR"
  printf '%s\n' "$1" >"$MARKER.tmp"
  mv -f "$MARKER.tmp" "$MARKER"
  if [ "$(id -u)" -eq 0 ]; then chown --reference="$DATA_DIR" "$MARKER"; fi
}

# root_pinned: whether trust.sqlite already pins a deployment root (a kiosk provisioned by hand or
# enrolled with a hub): such a kiosk takes nothing from a stick
root_pinned() {
  [ -f "$DATA_DIR/trust.sqlite" ] || return 1
  python3 - "$DATA_DIR/trust.sqlite" <<'PY'
import sqlite3, sys
try:
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    row = db.execute("SELECT 1 FROM pins WHERE name = 'phic-root'").fetchone()
except sqlite3.Error:
    row = None
sys.exit(0 if row else 1)
PY
}

if [ -e "$MARKER" ]; then
  say "already provisioned from a USB stick ($MARKER): nothing to do"
  exit 0
fi
if root_pinned; then
  write_marker "skipped $(date -u +%FT%TZ): a deployment root was already pinned"
  say "this kiosk already trusts a deployment root: a USB stick changes nothing (re-provision by hand)"
  exit 0
fi

# --- the stick ---------------------------------------------------------------------------------------
if [ -z "$SOURCE" ]; then
  device=/dev/disk/by-label/$LABEL
  if [ ! -e "$device" ]; then
    say "no USB stick labelled $LABEL: nothing to do"
    exit 0
  fi
  SOURCE=${RUNTIME_DIRECTORY:-/run/healthcode-provision}/stick
  mkdir -p "$SOURCE"
  # read-only: nothing on the stick changes, and pulling it out early harms neither side
  mount -o ro,nosuid,nodev,noexec "$device" "$SOURCE"
  trap 'umount "$SOURCE" 2>/dev/null || true' EXIT
  say "mounted $(readlink -f "$device") ($LABEL) read-only"
fi
bundle=$SOURCE
if [ -f "$SOURCE/kiosk/root.pem" ]; then bundle=$SOURCE/kiosk; fi
if [ ! -f "$bundle/root.pem" ]; then
  say "no provisioning bundle on the stick (root.pem neither at its top nor in kiosk/)" >&2
  exit 1
fi

# --- provision.conf ----------------------------------------------------------------------------------
DEVICE_NAME="" SITE="" HUB_URL="" ENROLL_CODE="" ROOT_FINGERPRINT=""
if [ -f "$bundle/provision.conf" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    case "$line" in ''|'#'*) continue ;; esac
    key=${line%%=*}
    value=${line#*=}
    if [ "$key" = "$line" ]; then say "provision.conf: not KEY=VALUE: $line" >&2; exit 1; fi
    value=${value#\"}; value=${value%\"}
    case "$key" in
      DEVICE_NAME) DEVICE_NAME=$value ;;
      SITE) SITE=$value ;;
      HUB_URL) HUB_URL=$value ;;
      ENROLL_CODE) ENROLL_CODE=$value ;;
      ROOT_FINGERPRINT) ROOT_FINGERPRINT=$value ;;
      *) say "provision.conf: unknown key $key" >&2; exit 1 ;;
    esac
  done <"$bundle/provision.conf"
fi
if [ "$DEVICE_NAME" = hostname ]; then DEVICE_NAME=$(hostname); fi
if [ -n "$HUB_URL" ] && [ -z "$ENROLL_CODE" ]; then
  say "provision.conf: HUB_URL needs ENROLL_CODE" >&2
  exit 1
fi

# --- a running kiosk holds the devices the self-test opens: stop it for the moment -------------------
was_running=0
if [ "$RESTART" -eq 1 ] && [ "$(id -u)" -eq 0 ] && command -v systemctl >/dev/null \
  && systemctl is-active --quiet "$NAME.service"; then
  say "stopping $NAME.service for the self-test (the gate relay goes off)"
  systemctl stop "$NAME.service"
  was_running=1
fi
restart_kiosk() {
  if [ "$was_running" -eq 1 ]; then systemctl --no-block start "$NAME.service" || true; fi
}

# --- kiosk provision ---------------------------------------------------------------------------------
args=(provision --bundle "$bundle" --data-dir "$DATA_DIR" --config-dir "$CONFIG_DIR" --json)
if [ -n "$DEVICE_NAME" ]; then args+=(--device-name "$DEVICE_NAME"); fi
if [ -n "$SITE" ]; then args+=(--site "$SITE"); fi
say "kiosk ${args[*]}"
set +e
report=$("$KIOSK" "${args[@]}")
status=$?
set -e
# the report is one JSON object: print it for the journal, and tell "refused" from "a device not ok"
printf '%s\n' "$report"
verdict=$(printf '%s' "$report" | python3 -c '
import json, sys
try:
    r = json.loads(sys.stdin.read() or "{}")
except ValueError:
    r = {"error": "no report"}
if r.get("error"):
    print("refused: " + str(r["error"]))
elif r.get("ok"):
    print("ok")
else:
    bad = [d.get("name", "?") for d in r.get("devices", []) if d.get("status") != "ok"]
    print("devices not ok: " + (", ".join(bad) or "see the report"))
')
if [ "$status" -ne 0 ] && [ "$verdict" = ok ]; then verdict="refused: kiosk provision exited $status"; fi
case "$verdict" in
  refused:*)
    say "$verdict; nothing marked done: fix the stick and plug it in again" >&2
    restart_kiosk
    exit 1
    ;;
  ok) say "provisioned" ;;
  *) say "provisioned, but $verdict: check with \`kiosk selftest\`" >&2 ;;
esac

# --- enrolment with the hub (optional) ---------------------------------------------------------------
enrolled=""
failed=0
if [ -n "$HUB_URL" ]; then
  enroll=(sync enroll --hub "$HUB_URL" --code "$ENROLL_CODE")
  if [ -n "$ROOT_FINGERPRINT" ]; then enroll+=(--root-fingerprint "$ROOT_FINGERPRINT"); fi
  # as the kiosk user (the device key it makes must be the kiosk's); with --root that user exists only
  # inside the root, so the command runs as the caller
  as_kiosk=()
  if [ "$(id -u)" -eq 0 ] && [ -z "$ROOT" ]; then
    as_kiosk=(setpriv "--reuid=$KIOSK_USER" "--regid=$KIOSK_USER" --init-groups)
  fi
  deadline=$((SECONDS + ENROLL_WAIT))
  while :; do
    say "kiosk sync enroll --hub $HUB_URL"
    if "${as_kiosk[@]}" env KIOSK_DATA_DIR="$DATA_DIR" HOME="$DATA_DIR" "$KIOSK" "${enroll[@]}"; then
      enrolled=", enrolled with $HUB_URL"
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "enrolment with $HUB_URL failed: enrol by hand (docs/technician.md)" >&2
      failed=1
      break
    fi
    sleep 10
  done
fi

write_marker "provisioned $(date -u +%FT%TZ) from $LABEL: $verdict$enrolled"
restart_kiosk
exit "$failed"
