#!/bin/bash -e
# pi-gen, on the build host: copy the kiosk checkout into the image as /usr/src/healthcode-kiosk.
# deploy/pi-gen/prepare.sh put it in files/healthcode-kiosk.tar.gz, and a wheelhouse built on a Pi (optional,
# for a build without PyPI) in files/wheels/.
SRC="${ROOTFS_DIR}/usr/src/healthcode-kiosk"
if [ ! -f files/healthcode-kiosk.tar.gz ]; then
	echo "stage-kiosk: files/healthcode-kiosk.tar.gz is missing: run deploy/pi-gen/prepare.sh PI_GEN_DIR first" >&2
	exit 1
fi
rm -rf "${SRC}"
install -d -m 755 "${SRC}"
tar -xzf files/healthcode-kiosk.tar.gz -C "${SRC}" --no-same-owner
if compgen -G "files/wheels/*.whl" >/dev/null; then
	install -d -m 755 "${SRC}/wheels"
	install -m 644 files/wheels/*.whl "${SRC}/wheels/"
fi
