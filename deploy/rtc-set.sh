#!/usr/bin/env bash
# rtc-set: set the system clock from the real-time clock, but never backwards.
# Installed as /usr/lib/healthcode-kiosk/rtc-set; run by healthcode-rtc.service when /dev/rtc0 appears.
#
# The DS3231 driver is a module, so the kernel's hctosys at boot misses it, and Debian's udev hook does
# nothing under systemd. A flat RTC cell reads 2000-01-01: setting the clock from it would be worse than
# keeping fake-hwclock's last shutdown time, so an RTC earlier than the system clock is reported (the
# kiosk then shows the clock as BEHIND and refers codes) and not used.
#
#   rtc-set [RTC_DEVICE]        default /dev/rtc0; HWCLOCK=path overrides /sbin/hwclock (tests)
set -euo pipefail

RTC=${1:-/dev/rtc0}
HWCLOCK=${HWCLOCK:-/sbin/hwclock}

reading=$("$HWCLOCK" --rtc="$RTC" --get --utc)
rtc=$(date -d "$reading" +%s)
now=$(date +%s)
if [ "$rtc" -lt $((now - 60)) ]; then
  echo "rtc-set: $RTC reads $(date -u -d "@$rtc" +%FT%TZ), earlier than the system clock" \
    "$(date -u -d "@$now" +%FT%TZ): not used (flat RTC cell? set it: sudo hwclock -w)" >&2
  exit 0
fi
"$HWCLOCK" --rtc="$RTC" --hctosys --utc
echo "rtc-set: system clock set from $RTC: $(date -u +%FT%TZ)"
