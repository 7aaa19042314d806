#!/usr/bin/env bash
# Installs what the kiosk needs on Debian 12 / Raspberry Pi OS (bookworm or later): system packages,
# then a virtual environment in .venv with the kiosk installed. Safe to run again: it only does
# what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(
  python3 python3-venv python3-dev gcc   # the venv, and builds of packages without wheels
  libssl3 openssl                        # system OpenSSL 3: SM2 signatures (libcrypto.so.3), interop tests
  fonts-noto-cjk                         # Chinese text on screens and paper codes
  poppler-utils                          # tests read back the paper-code PDFs (pdftotext, pdftoppm)
  libzbar0                               # pyzbar, the scanner's second-opinion QR decoder
  pcscd libpcsclite-dev swig             # PC/SC readers; pyscard builds from source against pcsclite
  vsmartcard-vpcd                        # virtual PC/SC reader for the simulated contactless card
  shellcheck                             # tests lint deploy/install.sh
  libegl1 libgl1 libxkbcommon0 libfontconfig1 libglib2.0-0 libdbus-1-3   # Qt (PySide6) screens
  espeak-ng                              # spoken prompts (python -m kiosk.sound.prompts DIR)
  postgresql                             # hub tests start a throwaway server on loopback (kiosk/hub/pgtemp.py)
)

missing=()
for p in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml setup.py kiosk/codes/_base45.c | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "==> installing the kiosk into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test,hub]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
echo "==> ready: $(.venv/bin/kiosk --version)"
