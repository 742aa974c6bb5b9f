#!/usr/bin/env bash
# Read the Prometheus metrics; by default only Switchyard's own (no process/runtime, no buckets):
#   ./metrics.sh          ./metrics.sh --all
set -euo pipefail
cd "$(dirname "$0")"
source ./_common.sh
# /metrics is public unless METRICS_REQUIRE_AUTH=true; sending the token works either way.
text="$(curl -fsS -H "Authorization: Bearer ${SWITCHYARD_TOKEN}" "${SWITCHYARD_URL}/metrics")"
if [[ "${1:-}" == "--all" ]]; then
  printf '%s\n' "$text"
else
  printf '%s\n' "$text" | grep -Ev '^(#|$|process_|nodejs_)|_bucket\{' || true
fi
