#!/usr/bin/env bash
# `npm test`: lint, typecheck, then every test tier (unit, integration, e2e) in one Jest run with
# coverage (>= 80% of src lines enforced by jest.config.js). Needs Redis and RabbitMQ: see
# scripts/ensure-services.sh, which .ci/run calls first.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== lint =="
npx eslint . --max-warnings 0
npx prettier --check . > /dev/null || { npx prettier --check . ; exit 1; }
echo "== typecheck =="
npx tsc -p tsconfig.json --noEmit
echo "== build (e2e tests run the compiled CLI) =="
npm run build --silent
echo "== tests =="
# --forceExit: a few suites leave sockets of killed child processes and amqplib heartbeats
# behind for a while; Jest must not wait on them (every test already awaited its own cleanup).
rm -f coverage/test-summary.txt
set +e
npx jest --coverage --forceExit "$@"
status=$?
# Repeat the plain "tests: N passed, N failed" line last, after Jest's own summary.
[ -f coverage/test-summary.txt ] && cat coverage/test-summary.txt
exit $status
