#!/bin/bash -e
# pi-gen, on the build host: appliance settings that are files.
# The journal keeps decisions and device problems across reboots, within a bound (SD card wear).
install -D -m 644 files/journald.conf "${ROOTFS_DIR}/etc/systemd/journald.conf.d/healthcode-kiosk.conf"
