#!/usr/bin/env bash
# The kiosk's main job until the checkpoint loop lands: a fresh data directory with demo issuer keys,
# a signed issuer bundle and (where ../shared/corpora is present) real DCC and SHC trust lists, then
# `kiosk verify` on a set of demo codes: genuine green/yellow/red codes of two issuers (ES256 and SM2),
# an expired one, a forged one, a tampered one, SMART Health Cards and plain text.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
K=.venv/bin/kiosk
DEMO=${KIOSK_DEMO_DIR:-$(mktemp -d /tmp/kiosk-demo.XXXXXX)}
export KIOSK_DATA_DIR="$DEMO/data"
mkdir -p "$DEMO"
echo "==> demo directory: $DEMO"

echo "==> demo keys: a deployment root, Guangdong (ES256) and Beijing (SM2) issuers"
$K issuer keygen --root --out "$DEMO/root.pem" >/dev/null
$K issuer keygen --alg es256 --iss 440000 --out "$DEMO/gd.pem" >/dev/null
$K issuer keygen --alg sm2 --iss 110000 --out "$DEMO/bj.pem" >/dev/null
$K issuer keygen --alg es256 --iss 440000 --out "$DEMO/forger.pem" >/dev/null
$K issuer bundle --root-key "$DEMO/root.pem" --issuer-key "$DEMO/gd.pem" --issuer-key "$DEMO/bj.pem" \
  --name "440000=广东省卫生健康委员会" --name "110000=北京市卫生健康委员会" --seq 1 --out "$DEMO/bundle.jws"
$K trust import --format phic-bundle --root-key "$DEMO/root.pem" "$DEMO/bundle.jws"

CORPORA=../shared/corpora
if [ -d "$CORPORA" ]; then
  $K trust import --format dsc-list --signing-key "$CORPORA/dsc-list/dsc-list-signing-key.pem" "$CORPORA/dsc-list/dsc-list.json"
  $K trust import --format vci-snapshot --signature "$CORPORA/vci/vci_snapshot.sig" \
    --certificate "$CORPORA/vci/vci_snapshot.crt" "$CORPORA/vci/vci_snapshot.json"
fi

echo "==> demo codes"
codes="$DEMO/codes.txt"
{
  $K issuer sign --key "$DEMO/gd.pem" --color green --name 张小三 --id-number 11010519491231002X --vaccinations 3 --png "$DEMO/green.png"
  $K issuer sign --key "$DEMO/bj.pem" --color yellow --name 李四 --id-number 440301199001011234 --type p --valid-hours 168 \
    --test negative --test-at "$(date -u -d '-1 day' +%FT%TZ)"
  $K issuer sign --key "$DEMO/gd.pem" --color red --name 王五 --id-type 02 --id-number E12345678 --risk-area
  $K issuer sign --key "$DEMO/gd.pem" --color green --name 赵六 --id-number 11010519491231002X \
    --not-before "$(date -u -d '-3 days' +%FT%TZ)" --valid-hours 24
  $K issuer sign --key "$DEMO/forger.pem" --color green --name 钱七 --id-number 11010519491231002X
  $K issuer sign --key "$DEMO/gd.pem" --color red --name 孙八 --id-number 11010519491231002X | sed 's/.$/Z/'
  echo "https://example.com/not-a-health-code"
} > "$codes"
$K issuer paper --key "$DEMO/gd.pem" --name 周九 --id-number 11010519491231002X --issuer-name 广东省卫生健康委员会 \
  --out "$DEMO/paper.pdf"
echo "   green code as a QR image: $DEMO/green.png; a paper code: $DEMO/paper.pdf"

echo "==> kiosk verify: green, yellow (SM2), red, expired, forged, tampered, not a code, then the QR image"
$K verify --text-file "$codes" "$DEMO/green.png" || true
if [ -d "$CORPORA" ]; then
  echo "==> kiosk verify: SMART Health Card spec examples (their example issuer pinned by JWKS) as of 2023-07-01"
  $K trust import --format jwks --issuer https://spec.smarthealth.cards/examples/issuer \
    "$CORPORA/shc/spec-examples/issuer/.well-known/jwks.json"
  $K verify --at 2023-07-01 --text-file "$CORPORA/shc/spec-examples/example-00-f-qr-code-numeric-value-0.txt" \
    --text-file "$CORPORA/shc/spec-examples/example-03-f-qr-code-numeric-value-0.txt" || true
fi
echo "==> kiosk trust status"
$K trust status
