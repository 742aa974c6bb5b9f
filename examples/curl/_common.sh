# Sourced by the scripts in this folder: base URL, token and a curl wrapper.
SWITCHYARD_URL="${SWITCHYARD_URL:-http://localhost:3000}"
if [[ -z "${SWITCHYARD_TOKEN:-}" ]]; then
  echo "set SWITCHYARD_TOKEN (e.g. the SWITCHYARD_ADMIN_TOKEN the server runs with)" >&2
  exit 2
fi

# sy METHOD PATH [curl args...]: --fail-with-body is `curl -f` (exit 22 on an HTTP error) that
# still prints the {"error":{...}} body, so you see what was wrong (curl >= 7.76).
sy() {
  local method="$1" path="$2"
  shift 2
  local json=()
  # A JSON content type only with a body: the API refuses an empty body declared as JSON.
  [[ $# -gt 0 ]] && json=(-H 'Content-Type: application/json')
  curl -sS --fail-with-body -X "$method" -H "Authorization: Bearer ${SWITCHYARD_TOKEN}" \
    "${json[@]}" "$@" "${SWITCHYARD_URL}${path}"
}

# A random UUID (the idempotency key of a submit): the kernel's, else uuidgen, else node.
new_uuid() {
  cat /proc/sys/kernel/random/uuid 2>/dev/null || uuidgen 2>/dev/null ||
    node -e 'console.log(require("node:crypto").randomUUID())'
}
