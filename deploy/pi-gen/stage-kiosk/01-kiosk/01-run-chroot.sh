#!/bin/bash -e
# pi-gen, inside the image (on_chroot feeds this file to bash on stdin): run the kiosk installer in image
# mode: the venv, the units (enabled), the udev rules, config.txt, the spoken prompts. Its packages are
# already there (00-packages). KIOSK_INSTALL_OPTIONS, exported in pi-gen's config, adds options, e.g.
# "--with-picamera2" for a CSI camera.
KIOSK_SRC="${KIOSK_SRC:-/usr/src/healthcode-kiosk}"
args=(--role kiosk --image)
if [ -d "${KIOSK_SRC}/wheels" ]; then
	args+=(--wheels "${KIOSK_SRC}/wheels")
fi
# shellcheck disable=SC2206  # split on purpose: a list of options
args+=(${KIOSK_INSTALL_OPTIONS:-})
# </dev/null: apt and pip must not read the rest of this script, which is on bash's stdin
"${KIOSK_SRC}/deploy/install.sh" "${args[@]}" </dev/null
rm -rf "${KIOSK_SRC}/wheels"
