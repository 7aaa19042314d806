#!/bin/bash -e
# pi-gen, inside the image: the screen. The kiosk draws with Qt on eglfs straight onto KMS (no X11, no
# Wayland compositor: deploy/kiosk-launch.sh picks the connected display), which needs the full KMS
# driver; the official touch display is found by display_auto_detect. Raspberry Pi OS sets both: make
# sure, under [all].
CONFIG_TXT="${CONFIG_TXT:-/boot/firmware/config.txt}"
for line in "dtoverlay=vc4-kms-v3d" "display_auto_detect=1"; do
	if ! grep -qxF "${line}" "${CONFIG_TXT}"; then
		if [ "$(grep -E '^\[' "${CONFIG_TXT}" | tail -n 1)" != "[all]" ]; then
			echo "[all]" >>"${CONFIG_TXT}"
		fi
		echo "${line}" >>"${CONFIG_TXT}"
	fi
done
# The display belongs to the kiosk: no login prompt under it, which would also read whatever a keyboard
# plugged into the kiosk types. Technicians use SSH; for a local console, stop the kiosk and press Alt+F2.
systemctl disable getty@tty1.service
