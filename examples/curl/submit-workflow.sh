#!/usr/bin/env bash
# Submit a workflow (default: workflow.example.json) and print its id:
#   ./submit-workflow.sh [file.json]
set -euo pipefail
cd "$(dirname "$0")"
source ./_common.sh
file="${1:-workflow.example.json}"
response="$(sy POST /v1/workflows --data-binary "@${file}")"
echo "$response"
# The id without needing jq: {"workflow":{"id":"..."
id="$(printf '%s' "$response" | sed -n 's/^{"workflow":{"id":"\([^"]*\)".*/\1/p')"
[[ -n "$id" ]] && echo "workflow id: $id  (next: ./workflow-status.sh $id)" >&2
