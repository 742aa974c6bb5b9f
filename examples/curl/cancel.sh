#!/usr/bin/env bash
# Cancel a task, or a whole workflow:
#   ./cancel.sh task <task-id>
#   ./cancel.sh workflow <workflow-id>
set -euo pipefail
cd "$(dirname "$0")"
source ./_common.sh
kind="${1:?usage: $0 task|workflow <id>}"
id="${2:?usage: $0 task|workflow <id>}"
case "$kind" in
  task) sy POST "/v1/tasks/${id}/cancel" ;;
  workflow) sy POST "/v1/workflows/${id}/cancel" ;;
  *) echo "usage: $0 task|workflow <id>" >&2; exit 2 ;;
esac
echo
