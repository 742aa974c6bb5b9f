#!/usr/bin/env bash
# Poll a workflow until it finishes: ./workflow-status.sh <workflow-id> [interval-seconds]
# Exits 0 when it COMPLETED, 1 when it FAILED or was CANCELLED.
set -euo pipefail
cd "$(dirname "$0")"
source ./_common.sh
id="${1:?usage: $0 <workflow-id> [interval-seconds]}"
interval="${2:-2}"
while true; do
  if ! body="$(sy GET "/v1/workflows/${id}")"; then
    echo "$body" >&2
    exit 22
  fi
  status="$(printf '%s' "$body" | sed -n 's/^{"workflow":{[^}]*"status":"\([A-Z]*\)".*/\1/p')"
  echo "$(date +%T) ${id} ${status:-?}"
  case "$status" in
    COMPLETED) echo "$body"; exit 0 ;;
    FAILED | CANCELLED) echo "$body"; exit 1 ;;
  esac
  sleep "$interval"
done
