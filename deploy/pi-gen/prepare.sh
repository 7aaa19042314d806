#!/usr/bin/env bash
# Prepares a pi-gen checkout to build the kiosk image from this checkout (docs/image.md):
#
#   deploy/pi-gen/prepare.sh PI_GEN_DIR [--wheels DIR] [--config FILE]
#
#   PI_GEN_DIR/stage-kiosk      this stage, with files/healthcode-kiosk.tar.gz (the checkout's kiosk,
#                               drivers, deploy, systemd, hardware, docs and packaging files) and, with
#                               --wheels, files/wheels/*.whl (an offline build: no PyPI in the chroot)
#   PI_GEN_DIR/config           from --config FILE, or from config.example when PI_GEN_DIR/config does
#                               not exist (an existing config is kept)
#   PI_GEN_DIR/stage2/SKIP_IMAGES   export only the kiosk image, not Raspberry Pi OS Lite as well
#
# Then:  cd PI_GEN_DIR && ./build-docker.sh      (or sudo ./build.sh on a Debian host)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHECKOUT=$(cd "$HERE/../.." && pwd)
PIGEN=""
WHEELS=""
CONFIG=""
# what the image needs of this checkout: the package (pyproject.toml, setup.py, README.md, LICENSE,
# kiosk, drivers) and the appliance (deploy, systemd, hardware, docs)
CONTENT=(pyproject.toml setup.py README.md LICENSE kiosk drivers deploy systemd hardware docs)

usage() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
  exit "${1:-0}"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --wheels) [ $# -ge 2 ] || usage 2; WHEELS=$(realpath "$2"); shift 2 ;;
    --config) [ $# -ge 2 ] || usage 2; CONFIG=$(realpath "$2"); shift 2 ;;
    -h|--help) usage 0 ;;
    -*) echo "prepare.sh: unknown option $1" >&2; usage 2 ;;
    *) [ -z "$PIGEN" ] || usage 2; PIGEN=$(realpath "$1"); shift ;;
  esac
done
[ -n "$PIGEN" ] || usage 2
if [ ! -f "$PIGEN/build.sh" ] || [ ! -d "$PIGEN/stage2" ]; then
  echo "prepare.sh: $PIGEN is not a pi-gen checkout (git clone --branch arm64 https://github.com/RPi-Distro/pi-gen)" >&2
  exit 2
fi
if [ -n "$WHEELS" ] && ! compgen -G "$WHEELS/*.whl" >/dev/null; then
  echo "prepare.sh: --wheels $WHEELS: no *.whl files there" >&2
  exit 2
fi

stage=$PIGEN/stage-kiosk
echo "==> $stage"
rm -rf "$stage"
cp -a "$HERE/stage-kiosk" "$stage"
# pi-gen runs only executable scripts: keep the modes whatever the checkout's umask did to them
chmod 755 "$stage/prerun.sh" "$stage"/*/*.sh
present=()
for item in "${CONTENT[@]}"; do
  if [ -e "$CHECKOUT/$item" ]; then present+=("$item"); fi
done
tar -C "$CHECKOUT" --exclude=__pycache__ --exclude='*.pyc' --exclude='*.so' --exclude=files/healthcode-kiosk.tar.gz \
  --exclude=files/wheels --sort=name --owner=0 --group=0 --numeric-owner \
  -czf "$stage/01-kiosk/files/healthcode-kiosk.tar.gz" "${present[@]}"
echo "    files/healthcode-kiosk.tar.gz: ${present[*]}"
if [ -n "$WHEELS" ]; then
  install -d "$stage/01-kiosk/files/wheels"
  cp "$WHEELS"/*.whl "$stage/01-kiosk/files/wheels/"
  echo "    files/wheels: $(find "$stage/01-kiosk/files/wheels" -name '*.whl' | wc -l) wheels"
fi

if [ -n "$CONFIG" ]; then
  install -m 644 "$CONFIG" "$PIGEN/config"
  echo "==> $PIGEN/config (from $CONFIG)"
elif [ ! -e "$PIGEN/config" ]; then
  install -m 644 "$HERE/config.example" "$PIGEN/config"
  echo "==> $PIGEN/config (from config.example: read it, set the SSH key)"
else
  echo "==> $PIGEN/config kept"
fi
touch "$PIGEN/stage2/SKIP_IMAGES"
echo "==> $PIGEN/stage2/SKIP_IMAGES (only the kiosk image is exported)"
echo "==> next: cd $PIGEN && ./build-docker.sh"
