#!/usr/bin/env bash
# Register (or re-register) an agent: ./register-agent.sh [id] [capability...]
set -euo pipefail
cd "$(dirname "$0")"
source ./_common.sh
id="${1:-docs-writer}"
shift || true
caps="${*:-docs}"
caps_json="$(printf '"%s",' $caps)"
sy POST /v1/agents --data "{\"id\":\"${id}\",\"capabilities\":[${caps_json%,}],\"maxLoad\":2}"
echo
