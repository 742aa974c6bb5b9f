#!/usr/bin/env bash
# Submit a workflow (default: workflow.example.json) and print its id:
#   ./submit-workflow.sh [file.json]
# Always with an idempotency key (IDEMPOTENCY_KEY, else a new UUID), in the Idempotency-Key header
# and the body: a 503 or a dropped connection may still mean the workflow was stored, so curl
# retries (--retry) with the SAME key and the server answers with the workflow it already has.
# If it still fails, run again with IDEMPOTENCY_KEY=<the key printed below>.
set -euo pipefail
cd "$(dirname "$0")"
source ./_common.sh
file="${1:-workflow.example.json}"
key="${IDEMPOTENCY_KEY:-$(new_uuid)}"
echo "Idempotency-Key: $key" >&2
# The key into the body too (after the object's first "{"; no jq needed).
body="$(sed '0,/{/s//{"idempotencyKey":"'"$key"'",/' "$file")"
response="$(sy POST /v1/workflows -H "Idempotency-Key: $key" --retry 3 --retry-delay 1 --data-binary "$body")"
echo "$response"
# The id without needing jq: {"workflow":{"id":"..."
id="$(printf '%s' "$response" | sed -n 's/^{"workflow":{"id":"\([^"]*\)".*/\1/p')"
[[ -n "$id" ]] && echo "workflow id: $id  (next: ./workflow-status.sh $id)" >&2
