#!/usr/bin/env bash
# Turns a fresh Raspberry Pi OS Lite (bookworm or later) into a health-code checkpoint kiosk, from this
# checkout: system packages, the `healthcode-kiosk` system user (sysusers.d), the data and config
# directories (tmpfiles.d), a venv in /usr/lib/healthcode-kiosk/venv with the kiosk installed, the
# configuration templates (never overwriting existing ones), udev rules, the I2C/RTC/relay lines in
# config.txt (once) and the systemd unit, enabled. Safe to run again: it only changes what differs.
#
#   sudo deploy/install.sh              install on this Pi
#   deploy/install.sh --dry-run         print what would be done, change nothing
#   deploy/install.sh --root DIR        files only, into DIR (tests, image builds): no apt, no venv,
#                                       no systemctl/udevadm; sysusers/tmpfiles applied with --root
# Options: --with-picamera2 (CSI camera: apt python3-picamera2), --no-enable (install, do not enable).
set -euo pipefail

CHECKOUT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=""
DRY_RUN=0
ENABLE=1
PICAMERA=0
NAME=healthcode-kiosk
PREFIX=/usr/lib/$NAME
VENV=$PREFIX/venv
CONFIG_DIR=/etc/$NAME

APT_PACKAGES=(
  python3 python3-venv python3-dev gcc   # the venv; builds of the C extension and of pyscard
  libssl3 openssl                        # OpenSSL 3: SM2 signatures
  fonts-noto-cjk                         # Chinese text on screens
  libzbar0                               # pyzbar, the second-opinion QR decoder
  pcscd libpcsclite-dev swig             # PC/SC contactless reader; pyscard builds against pcsclite
  python3-lgpio                          # GPIO on the Pi (the only gpiozero backend on a Pi 5)
  i2c-tools                              # i2cdetect: technician checks of the thermometer and RTC
)

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || usage 2; ROOT=$(realpath -m "$2"); shift 2 ;;
    --root=*) ROOT=$(realpath -m "${1#--root=}"); shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --no-enable) ENABLE=0; shift ;;
    --with-picamera2) PICAMERA=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage 2 ;;
  esac
done
[ "$PICAMERA" -eq 0 ] || APT_PACKAGES+=(python3-picamera2)

if [ -z "$ROOT" ] && [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (sudo), or use --root DIR / --dry-run" >&2
  exit 2
fi

say() { echo "==> $*"; }

# run CMD...: execute, or only print it with --dry-run
run() {
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "    would run: $*"
  else
    "$@"
  fi
}

# put SRC DEST MODE: install a file when missing or different (DEST is inside $ROOT)
put() {
  local src=$1 dest=$ROOT$2 mode=$3
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    echo "    unchanged: $2"
    return 0
  fi
  echo "    install: $2"
  run install -D -m "$mode" "$src" "$dest"
}

# keep SRC DEST: install a configuration template only when DEST does not exist
keep() {
  local src=$1 dest=$ROOT$2
  if [ -e "$dest" ]; then
    echo "    kept: $2 (exists)"
    return 0
  fi
  echo "    install: $2 (from template)"
  run install -D -m 0640 "$src" "$dest"
}

# ---------------------------------------------------------------------------------------------------
if [ -n "$ROOT" ]; then
  say "installing into $ROOT (files only)"
  run mkdir -p "$ROOT"
else
  say "system packages"
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    run apt-get update -q
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "    all present"
  fi
fi

say "system user, unit, rules and documentation"
put "$CHECKOUT/systemd/$NAME.sysusers" "/usr/lib/sysusers.d/$NAME.conf" 0644
put "$CHECKOUT/systemd/$NAME.tmpfiles" "/usr/lib/tmpfiles.d/$NAME.conf" 0644
put "$CHECKOUT/systemd/$NAME.service" "/etc/systemd/system/$NAME.service" 0644
put "$CHECKOUT/hardware/99-$NAME.rules" "/etc/udev/rules.d/99-$NAME.rules" 0644
put "$CHECKOUT/deploy/modules-load.conf" "/etc/modules-load.d/$NAME.conf" 0644
for doc in technician.md guard.md; do
  put "$CHECKOUT/docs/$doc" "/usr/share/doc/$NAME/$doc" 0644
done

if command -v systemd-sysusers >/dev/null; then
  if [ -n "$ROOT" ]; then run systemd-sysusers --root="$ROOT"; else run systemd-sysusers "/usr/lib/sysusers.d/$NAME.conf"; fi
else
  echo "    systemd-sysusers not found: the $NAME user is not created" >&2
fi

say "configuration in $CONFIG_DIR"
keep "$CHECKOUT/deploy/devices.toml" "$CONFIG_DIR/devices.toml"
keep "$CHECKOUT/deploy/policy.toml" "$CONFIG_DIR/policy.toml"

# after the user and the config files exist: directories and ownership (tmpfiles `d` and `z` lines)
if command -v systemd-tmpfiles >/dev/null; then
  if [ -n "$ROOT" ]; then run systemd-tmpfiles --root="$ROOT" --create; else run systemd-tmpfiles --create "/usr/lib/tmpfiles.d/$NAME.conf"; fi
fi

say "boot configuration (I2C at 100 kHz, DS3231 RTC, gate relay held off from boot)"
config_txt=""
for candidate in /boot/firmware/config.txt /boot/config.txt; do
  if [ -f "$ROOT$candidate" ]; then config_txt=$candidate; break; fi
done
if [ -z "$config_txt" ]; then
  echo "    no /boot/firmware/config.txt or /boot/config.txt: add the lines of hardware/README.md by hand" >&2
else
  marker="# $NAME (deploy/install.sh): I2C at 100 kHz for the MLX90614, DS3231 RTC, active-low relay on GPIO17 off"
  added=0
  for line in "$marker" "dtparam=i2c_arm=on,i2c_arm_baudrate=100000" "dtoverlay=i2c-rtc,ds3231" "gpio=17=op,dh"; do
    if ! grep -qxF -- "$line" "$ROOT$config_txt"; then
      if [ "$DRY_RUN" -eq 1 ]; then
        echo "    would append to $config_txt: $line"
      else
        printf '%s\n' "$line" >>"$ROOT$config_txt"
      fi
      added=1
    fi
  done
  if [ "$added" -eq 1 ]; then echo "    appended to $config_txt (reboot to apply)"; else echo "    unchanged: $config_txt"; fi
fi

if [ -n "$ROOT" ]; then
  say "skipped with --root: venv, systemctl, udevadm"
else
  say "virtual environment $VENV"
  stamp_hash=$(cd "$CHECKOUT" && find kiosk drivers pyproject.toml setup.py -type f \
    \( -name '*.py' -o -name '*.c' -o -name '*.toml' -o -name '*.json' -o -name '*.csv' -o -name NOTICE \) \
    -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  if [ ! -x "$VENV/bin/python" ]; then
    # system site packages: python3-lgpio (and python3-picamera2) come from apt
    run python3 -m venv --system-site-packages "$VENV"
  fi
  if [ ! -f "$VENV/.installed-$stamp_hash" ]; then
    run "$VENV/bin/python" -m pip install -q --upgrade pip
    run "$VENV/bin/python" -m pip install -q --upgrade --force-reinstall --no-deps "$CHECKOUT"
    run "$VENV/bin/python" -m pip install -q "$CHECKOUT"
    run find "$VENV" -maxdepth 1 -name '.installed-*' -delete
    run touch "$VENV/.installed-$stamp_hash"
  else
    echo "    unchanged: kiosk already installed from this checkout"
  fi
  run ln -sfn "$VENV/bin/kiosk" /usr/local/bin/kiosk

  say "udev and systemd"
  run udevadm control --reload
  run udevadm trigger --subsystem-match=tty --subsystem-match=video4linux --subsystem-match=usb
  run systemctl daemon-reload
  if [ "$ENABLE" -eq 1 ]; then
    run systemctl enable "$NAME.service"
  fi
fi

say "done. Next: provision (docs/technician.md), reboot once for config.txt, then: systemctl start $NAME"
