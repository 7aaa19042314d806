#!/usr/bin/env bash
# kiosk-launch: start the checkpoint with the screen when a display is connected, headless otherwise.
# Installed as /usr/lib/healthcode-kiosk/kiosk-launch; the ExecStart of healthcode-kiosk.service.
#
#   kiosk-launch [kiosk run options...]     e.g. --config F --policy F --data-dir D
#
# It ends by exec'ing `kiosk run` in its own process, so systemd's main PID (sd_notify, watchdog) is the
# kiosk itself. KIOSK_SCREEN (set in the unit; change it with `systemctl edit healthcode-kiosk`):
#   auto (default)  the screen when a DRM connector reports "connected" (a DSI panel first, then HDMI),
#                   or when /etc/healthcode-kiosk/eglfs.json exists; headless otherwise, so a kiosk whose
#                   display cable came loose still checks people with lamps, buzzer and voice
#   on              always the screen (Qt picks the DRM device unless eglfs.json names one)
#   off             always headless
# The screen is Qt on eglfs with the KMS/GBM backend: full screen, no X11, Wayland or compositor.
# A technician's /etc/healthcode-kiosk/eglfs.json (Qt's QT_QPA_EGLFS_KMS_CONFIG format) wins over the
# generated one, e.g. {"device": "/dev/dri/card1", "outputs": [{"name": "HDMI-A-1", "mode": "1024x768"}]}.
# Any QT_QPA_* variable already set (a drop-in's Environment=) is kept: a display mounted upside down
# takes QT_QPA_EGLFS_ROTATION=180 and QT_QPA_EVDEV_TOUCHSCREEN_PARAMETERS=rotate=180.
set -euo pipefail

KIOSK=${KIOSK_EXE:-/usr/lib/healthcode-kiosk/venv/bin/kiosk}
MODE=${KIOSK_SCREEN:-auto}
DRM=${KIOSK_SYSFS_DRM:-/sys/class/drm}
USER_CONFIG=${KIOSK_EGLFS_CONFIG:-/etc/healthcode-kiosk/eglfs.json}
RUN_DIR=${RUNTIME_DIRECTORY:-${XDG_RUNTIME_DIR:-/tmp}}

ARGS=("$@")

say() { echo "kiosk-launch: $*" >&2; }

# connected_card: print "cardN connector" for the first connected connector, DSI panels before HDMI.
# A DSI or DPI connector only exists when a panel was found (display_auto_detect or an overlay), and
# some panel drivers report "unknown" rather than "connected": both count there. HDMI must say
# "connected" (a monitor that answers hotplug); composite's "unknown" does not count.
connected_card() {
  local pattern status name state
  for pattern in 'card*-DSI-*' 'card*-DPI-*' 'card*-*'; do
    for status in "$DRM"/$pattern/status; do
      [ -r "$status" ] || continue
      state=$(cat "$status" 2>/dev/null || true)
      if [ "$state" = connected ] || { [ "$state" = unknown ] && [ "$pattern" != 'card*-*' ]; }; then
        name=$(basename "$(dirname "$status")")
        echo "${name%%-*} ${name#*-}"
        return 0
      fi
    done
  done
  return 1
}

headless() {
  say "$1: headless (lamps, buzzer and voice only)"
  exec "$KIOSK" run --headless "${ARGS[@]}"
}

case "$MODE" in
  off) headless "KIOSK_SCREEN=off" ;;
  on|auto) ;;
  *) say "KIOSK_SCREEN=$MODE: expected auto, on or off; using auto"; MODE=auto ;;
esac

export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-eglfs}
export QT_QPA_EGLFS_INTEGRATION=${QT_QPA_EGLFS_INTEGRATION:-eglfs_kms}
export QT_QPA_EGLFS_HIDECURSOR=${QT_QPA_EGLFS_HIDECURSOR:-1}
# set the mode even when the console already uses the same one, so the kiosk's framebuffer is shown
export QT_QPA_EGLFS_ALWAYS_SET_MODE=${QT_QPA_EGLFS_ALWAYS_SET_MODE:-1}

if [ -n "${QT_QPA_EGLFS_KMS_CONFIG:-}" ]; then
  say "display: QT_QPA_EGLFS_KMS_CONFIG=$QT_QPA_EGLFS_KMS_CONFIG (from the environment)"
elif [ -r "$USER_CONFIG" ]; then
  export QT_QPA_EGLFS_KMS_CONFIG=$USER_CONFIG
  say "display: $USER_CONFIG"
elif found=$(connected_card); then
  card=${found%% *}
  connector=${found#* }
  mkdir -p "$RUN_DIR"
  generated="$RUN_DIR/eglfs.json"
  # Qt takes the first DRM device it enumerates unless told: on a Pi that can be the render-only v3d
  # card, so name the card that has the connected output. No hardware cursor: touch only.
  printf '{\n  "device": "/dev/dri/%s",\n  "hwcursor": false\n}\n' "$card" >"$generated.tmp"
  mv -f "$generated.tmp" "$generated"
  export QT_QPA_EGLFS_KMS_CONFIG=$generated
  say "display: /dev/dri/$card ($connector connected)"
elif [ "$MODE" = on ]; then
  say "display: none reported connected; KIOSK_SCREEN=on, so Qt chooses"
else
  headless "no connected display in $DRM"
fi

exec "$KIOSK" run "${ARGS[@]}"
