#!/usr/bin/env bash
# Installs a health-code checkpoint kiosk (default) or a hub from this checkout, on Raspberry Pi OS /
# Debian bookworm or later: system packages, a system user (sysusers.d), its directories (tmpfiles.d),
# a venv in /usr/lib/healthcode-kiosk/venv with the kiosk installed, the configuration templates (never
# overwriting existing ones) and the systemd units, enabled. A kiosk also gets udev rules, the
# I2C/RTC/relay lines in config.txt (once), the spoken prompts (with espeak-ng) and, when asked, its
# enrolment with a hub. Safe to run again: it only changes what differs.
#
#   sudo deploy/install.sh                 a kiosk, on this Pi
#   sudo deploy/install.sh --role hub      the hub (any Debian machine): `kiosk hub serve` as a service
#   deploy/install.sh --dry-run            print what would be done, change nothing
#   deploy/install.sh --root DIR           files only, into DIR (tests): no apt, no venv, no systemctl
#                                          or udevadm; sysusers/tmpfiles applied with --root
# Options:
#   --role kiosk|hub           what to install (default kiosk)
#   --with-picamera2           kiosk with a CSI camera: apt python3-picamera2
#   --hub URL --enroll-code CODE [--root-fingerprint HEX]
#                              kiosk: enrol with the hub after installing (`kiosk sync enroll`, as the
#                              kiosk user); with --root or --dry-run the command is only printed
#   --wheels DIR               install the Python packages from this wheelhouse only (pip --no-index)
#   --image                    inside an image build's chroot (pi-gen): no udevadm, no daemon-reload,
#                              units enabled offline (also chosen when systemd-detect-virt sees a chroot)
#   --no-enable                install the units, do not enable them
#   --list-packages            print the apt packages this role needs, one a line, and exit
set -euo pipefail

CHECKOUT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROLE=kiosk
ROOT=""
DRY_RUN=0
ENABLE=1
PICAMERA=0
IMAGE=0
LIST=0
WHEELS=""
HUB_URL=""
ENROLL_CODE=""
ROOT_FINGERPRINT=""
NAME=healthcode-kiosk
HUB=healthcode-hub
PREFIX=/usr/lib/$NAME
VENV=$PREFIX/venv
DOC_DIR=/usr/share/doc/$NAME
KIOSK_DATA=/var/lib/$NAME

KIOSK_APT=(
  python3 python3-venv python3-dev gcc   # the venv; builds of the C extension and of pyscard
  libssl3 openssl                        # OpenSSL 3: SM2 signatures
  fonts-noto-cjk                         # Chinese text on screens
  libzbar0                               # pyzbar, the second-opinion QR decoder
  pcscd libpcsclite-dev swig             # PC/SC contactless reader; pyscard builds against pcsclite
  python3-lgpio                          # GPIO on the Pi (the only gpiozero backend on a Pi 5)
  i2c-tools                              # i2cdetect: technician checks of the thermometer and RTC
  util-linux-extra                       # hwclock: the system clock from the DS3231 (rtc-set)
  alsa-utils                             # aplay: spoken prompts and tones
  espeak-ng                              # builds the spoken prompts at install (kiosk.sound.prompts)
  libegl1 libgles2 libgl1 libgbm1 libdrm2 libegl-mesa0 libgl1-mesa-dri   # the screen: Qt on eglfs/KMS
  libfontconfig1 libfreetype6 libxkbcommon0 libglib2.0-0 libdbus-1-3 libx11-6  # what PySide6's Qt links
)
HUB_APT=(
  python3 python3-venv python3-dev gcc   # the venv; the C extension
  libssl3 openssl                        # OpenSSL 3: SM2 (the hub verifies and signs like a kiosk)
  libpcsclite-dev swig                   # pyscard (a dependency of the package) builds against pcsclite
  libzbar0                               # pyzbar (a dependency of the package) loads it on import
)

usage() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
  exit "${1:-0}"
}
die() {
  echo "install.sh: $*" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --role) [ $# -ge 2 ] || usage 2; ROLE=$2; shift 2 ;;
    --role=*) ROLE=${1#--role=}; shift ;;
    --root) [ $# -ge 2 ] || usage 2; ROOT=$(realpath -m "$2"); shift 2 ;;
    --root=*) ROOT=$(realpath -m "${1#--root=}"); shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --no-enable) ENABLE=0; shift ;;
    --with-picamera2) PICAMERA=1; shift ;;
    --image) IMAGE=1; shift ;;
    --wheels) [ $# -ge 2 ] || usage 2; WHEELS=$(realpath -m "$2"); shift 2 ;;
    --hub) [ $# -ge 2 ] || usage 2; HUB_URL=$2; shift 2 ;;
    --enroll-code) [ $# -ge 2 ] || usage 2; ENROLL_CODE=$2; shift 2 ;;
    --root-fingerprint) [ $# -ge 2 ] || usage 2; ROOT_FINGERPRINT=$2; shift 2 ;;
    --list-packages) LIST=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage 2 ;;
  esac
done

case "$ROLE" in
  kiosk) APT_PACKAGES=("${KIOSK_APT[@]}"); [ "$PICAMERA" -eq 0 ] || APT_PACKAGES+=(python3-picamera2) ;;
  hub) APT_PACKAGES=("${HUB_APT[@]}") ;;
  *) die "--role $ROLE: expected kiosk or hub" ;;
esac
if [ "$LIST" -eq 1 ]; then
  printf '%s\n' "${APT_PACKAGES[@]}"
  exit 0
fi
if [ "$ROLE" = hub ]; then
  [ -z "$HUB_URL$ENROLL_CODE$ROOT_FINGERPRINT" ] || die "--hub, --enroll-code and --root-fingerprint are for --role kiosk"
  [ "$PICAMERA" -eq 0 ] || die "--with-picamera2 is for --role kiosk"
fi
if [ -n "$HUB_URL" ] || [ -n "$ENROLL_CODE" ]; then
  if [ -z "$HUB_URL" ] || [ -z "$ENROLL_CODE" ]; then die "--hub URL and --enroll-code CODE go together"; fi
  case "$HUB_URL" in http://*|https://*) ;; *) die "--hub $HUB_URL: expected an http:// or https:// URL" ;; esac
fi
if [ -n "$ROOT_FINGERPRINT" ]; then
  [ -n "$HUB_URL" ] || die "--root-fingerprint needs --hub"
  [[ "$ROOT_FINGERPRINT" =~ ^[0-9A-Fa-f:]+$ ]] || die "--root-fingerprint: hexadecimal digits (colons allowed)"
fi
if [ "$IMAGE" -eq 1 ] && [ -n "$ROOT" ]; then die "--image runs inside the image's chroot: no --root"; fi
if [ "$IMAGE" -eq 1 ] && [ -n "$HUB_URL" ]; then
  die "--image: an image is flashed onto many kiosks; enrol each one (a USB stick's provision.conf, or --hub on the device)"
fi
if [ -n "$WHEELS" ] && [ ! -d "$WHEELS" ] && [ -z "$ROOT" ] && [ "$DRY_RUN" -eq 0 ]; then
  die "--wheels $WHEELS: not a directory"
fi
if [ -z "$ROOT" ] && [ "$IMAGE" -eq 0 ] && command -v systemd-detect-virt >/dev/null \
  && systemd-detect-virt --chroot --quiet; then
  IMAGE=1
  echo "==> running in a chroot: image mode (--image)"
fi

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
    if [ "$(stat -c %a "$dest")" != "${mode#0}" ]; then
      echo "    mode: $2 ($mode)"
      run chmod "$mode" "$dest"
    else
      echo "    unchanged: $2"
    fi
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

# apply_sysusers / apply_tmpfiles NAME: apply NAME's sysusers.d or tmpfiles.d file (with --root: every
# file in the root)
apply_sysusers() {
  if ! command -v systemd-sysusers >/dev/null; then
    echo "    systemd-sysusers not found: the user of $1 is not created" >&2
  elif [ -n "$ROOT" ]; then
    run systemd-sysusers --root="$ROOT"
  else
    run systemd-sysusers "/usr/lib/sysusers.d/$1.conf"
  fi
}
apply_tmpfiles() {
  if ! command -v systemd-tmpfiles >/dev/null; then
    echo "    systemd-tmpfiles not found: create the directories of $1 by hand" >&2
  elif [ -n "$ROOT" ]; then
    run systemd-tmpfiles --root="$ROOT" --create
  else
    run systemd-tmpfiles --create "/usr/lib/tmpfiles.d/$1.conf"
  fi
}

# ---------------------------------------------------------------------------------------------------
if [ -n "$ROOT" ]; then
  say "installing the $ROLE into $ROOT (files only)"
  run mkdir -p "$ROOT"
else
  say "system packages ($ROLE)"
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

if [ "$ROLE" = kiosk ]; then
  UNITS=("$NAME.service" healthcode-provision.service)
  say "system user, units, helpers, rules and documentation"
  put "$CHECKOUT/systemd/$NAME.sysusers" "/usr/lib/sysusers.d/$NAME.conf" 0644
  put "$CHECKOUT/systemd/$NAME.tmpfiles" "/usr/lib/tmpfiles.d/$NAME.conf" 0644
  for unit in "$NAME.service" healthcode-provision.service healthcode-rtc.service; do
    put "$CHECKOUT/systemd/$unit" "/etc/systemd/system/$unit" 0644
  done
  put "$CHECKOUT/deploy/kiosk-launch.sh" "$PREFIX/kiosk-launch" 0755
  put "$CHECKOUT/deploy/provision-usb.sh" "$PREFIX/provision-usb" 0755
  put "$CHECKOUT/deploy/rtc-set.sh" "$PREFIX/rtc-set" 0755
  put "$CHECKOUT/hardware/99-$NAME.rules" "/etc/udev/rules.d/99-$NAME.rules" 0644
  put "$CHECKOUT/deploy/modules-load.conf" "/etc/modules-load.d/$NAME.conf" 0644
  docs=(technician.md guard.md image.md)
  apply_sysusers "$NAME"

  say "configuration in /etc/$NAME"
  keep "$CHECKOUT/deploy/devices.toml" "/etc/$NAME/devices.toml"
  keep "$CHECKOUT/deploy/policy.toml" "/etc/$NAME/policy.toml"
  # after the user and the config files exist: directories and ownership (tmpfiles `d` and `z` lines)
  apply_tmpfiles "$NAME"
else
  UNITS=("$HUB.service" "$HUB-purge.timer")
  say "hub user, units (service, daily retention), health check and documentation"
  put "$CHECKOUT/systemd/$HUB.sysusers" "/usr/lib/sysusers.d/$HUB.conf" 0644
  put "$CHECKOUT/systemd/$HUB.tmpfiles" "/usr/lib/tmpfiles.d/$HUB.conf" 0644
  for unit in "$HUB.service" "$HUB-purge.service" "$HUB-purge.timer"; do
    put "$CHECKOUT/systemd/$unit" "/etc/systemd/system/$unit" 0644
  done
  put "$CHECKOUT/deploy/hub-wait-ready.py" "$PREFIX/hub-wait-ready" 0755
  docs=(hub.md hub-protocol.md technician.md)
  apply_sysusers "$HUB"

  say "configuration in /etc/$HUB"
  keep "$CHECKOUT/deploy/hub.env" "/etc/$HUB/hub.env"
  apply_tmpfiles "$HUB"
fi
for doc in "${docs[@]}"; do
  if [ -f "$CHECKOUT/docs/$doc" ]; then put "$CHECKOUT/docs/$doc" "$DOC_DIR/$doc" 0644; fi
done

if [ "$ROLE" = kiosk ]; then
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
    # lines after a conditional section such as [cm5] would apply to that model only: reopen [all]
    last_section=$(grep -E '^\[' "$ROOT$config_txt" | tail -n 1 || true)
    for line in "$marker" "dtparam=i2c_arm=on,i2c_arm_baudrate=100000" "dtoverlay=i2c-rtc,ds3231" "gpio=17=op,dh"; do
      if ! grep -qxF -- "$line" "$ROOT$config_txt"; then
        if [ "$added" -eq 0 ] && [ -n "$last_section" ] && [ "$last_section" != "[all]" ]; then
          if [ "$DRY_RUN" -eq 1 ]; then echo "    would append to $config_txt: [all]"; else echo "[all]" >>"$ROOT$config_txt"; fi
        fi
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
fi

# as_kiosk CMD...: the command line that runs CMD as the kiosk user with its data directory
as_kiosk() {
  printf '%s\0' setpriv "--reuid=$NAME" "--regid=$NAME" --init-groups \
    env "HOME=$KIOSK_DATA" "KIOSK_DATA_DIR=$KIOSK_DATA" "$@"
}
enroll_cmd=()
if [ -n "$HUB_URL" ]; then
  enroll_args=(sync enroll --hub "$HUB_URL" --code "$ENROLL_CODE")
  if [ -n "$ROOT_FINGERPRINT" ]; then enroll_args+=(--root-fingerprint "$ROOT_FINGERPRINT"); fi
  mapfile -d '' enroll_cmd < <(as_kiosk "$VENV/bin/kiosk" "${enroll_args[@]}")
fi

if [ -n "$ROOT" ]; then
  say "skipped with --root: venv, spoken prompts, systemctl, udevadm"
  if [ ${#enroll_cmd[@]} -gt 0 ]; then
    say "enrolment with $HUB_URL (not run with --root)"
    echo "    would run: ${enroll_cmd[*]}"
  fi
  say "done"
  exit 0
fi

say "virtual environment $VENV"
extras=""
if [ "$ROLE" = hub ]; then extras="[hub]"; fi
stamp_hash=$( (cd "$CHECKOUT" && find kiosk drivers pyproject.toml setup.py -type f \
  \( -name '*.py' -o -name '*.c' -o -name '*.toml' -o -name '*.json' -o -name '*.csv' -o -name NOTICE \) \
  -print0 | sort -z | xargs -0 sha256sum; echo "$extras") | sha256sum | cut -c1-16)
pip_opts=(-q)
if [ -n "$WHEELS" ]; then pip_opts+=(--no-index --find-links "$WHEELS"); fi
if [ "$IMAGE" -eq 1 ]; then pip_opts+=(--no-cache-dir); fi
venv_changed=0
if [ ! -x "$VENV/bin/python" ]; then
  # system site packages: python3-lgpio (and python3-picamera2) come from apt
  run python3 -m venv --system-site-packages "$VENV"
fi
if [ ! -f "$VENV/.installed-$stamp_hash" ]; then
  if [ -z "$WHEELS" ]; then run "$VENV/bin/python" -m pip install "${pip_opts[@]}" --upgrade pip; fi
  run "$VENV/bin/python" -m pip install "${pip_opts[@]}" --upgrade --force-reinstall --no-deps "$CHECKOUT"
  run "$VENV/bin/python" -m pip install "${pip_opts[@]}" "$CHECKOUT$extras"
  run find "$VENV" -maxdepth 1 -name '.installed-*' -delete
  run touch "$VENV/.installed-$stamp_hash"
  venv_changed=1
else
  echo "    unchanged: kiosk already installed from this checkout"
fi
run ln -sfn "$VENV/bin/kiosk" /usr/local/bin/kiosk

if [ "$ROLE" = kiosk ]; then
  say "spoken prompts in $KIOSK_DATA/sounds"
  if ! command -v espeak-ng >/dev/null; then
    echo "    espeak-ng not installed: tones only (apt install espeak-ng, then run this again)"
  elif [ "$venv_changed" -eq 0 ] && compgen -G "$KIOSK_DATA/sounds/*.wav" >/dev/null; then
    echo "    unchanged: prompts already built"
  else
    mapfile -d '' prompts_cmd < <(as_kiosk "$VENV/bin/python" -m kiosk.sound.prompts "$KIOSK_DATA/sounds")
    if [ "$DRY_RUN" -eq 1 ]; then
      echo "    would run: ${prompts_cmd[*]}"
    else
      "${prompts_cmd[@]}" >/dev/null
      echo "    built: $(find "$KIOSK_DATA/sounds" -name '*.wav' | wc -l) files"
    fi
  fi
fi

say "systemd"
if [ "$ROLE" = kiosk ] && [ "$IMAGE" -eq 0 ]; then
  run udevadm control --reload
  run udevadm trigger --subsystem-match=tty --subsystem-match=video4linux --subsystem-match=usb
fi
if [ "$IMAGE" -eq 0 ]; then run systemctl daemon-reload; fi
if [ "$ENABLE" -eq 1 ]; then
  run systemctl enable "${UNITS[@]}"
fi

if [ ${#enroll_cmd[@]} -gt 0 ]; then
  say "enrolment with $HUB_URL"
  if ! run "${enroll_cmd[@]}"; then
    echo "install.sh: the kiosk is installed, but the enrolment failed (see above). Once fixed:" >&2
    echo "    sudo ${enroll_cmd[*]}" >&2
    exit 1
  fi
fi

if [ "$ROLE" = kiosk ]; then
  say "done. Next: provision (docs/technician.md), reboot once for config.txt, then: systemctl start $NAME"
else
  say "done. Next: edit /etc/$HUB/hub.env (docs/hub.md), then: systemctl start $HUB"
fi
