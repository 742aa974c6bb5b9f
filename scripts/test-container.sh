#!/usr/bin/env bash
# npm run test:container — builds the Switchyard image and proves it boots and works:
#   1. build docker/Dockerfile (docker when a Docker engine answers, else podman; podman is
#      installed with apt-get when missing). Without a registry (no local node:20-bookworm-slim),
#      the base image is a stand-in built from this host's Node.js 20 (docker/make-standin-base.sh).
#   2. image checks: size budget, numeric non-root USER, OCI labels, HEALTHCHECK, the Lua assets in
#      dist/, no dev dependencies, tests or TypeScript sources of the app in /app.
#   3. a control-plane container and a worker container (host network, the machine's Redis and
#      RabbitMQ, a unique REDIS_KEY_PREFIX / BUS_NAMESPACE), both with a READ-ONLY root filesystem
#      and writable volumes only at the documented paths; /health/ready of both, the worker's
#      /metrics, the container HEALTHCHECK, and the example workflow submitted with the CLI inside
#      the control-plane container, run by the example agents in the worker container, whose
#      report is read back from the worker's reports volume.
#   4. cleanup: containers, volumes, images it built, Redis keys and bus objects it created.
# Exit 0 = every check passed. With CONTAINER_TEST_OPTIONAL=1 (set by .ci/run), a machine where no
# container engine works prints why and exits 0 ("SKIPPED"); otherwise that is a failure.
# Knobs: IMAGE_SIZE_BUDGET_MB (250), KEEP_IMAGE=1 (keep the built image), CONTAINER_ENGINE.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
say() { printf '[test:container %3ss] %s\n' "$(($(date +%s) - started))" "$*"; }
fail() {
  say "FAIL: $*"
  exit 1
}
skip() {
  if [ "${CONTAINER_TEST_OPTIONAL:-}" = 1 ]; then
    echo "test:container SKIPPED: $*"
    exit 0
  fi
  fail "no usable container engine: $*"
}

# ---- engine ----------------------------------------------------------------------------------
engine=${CONTAINER_ENGINE:-}
if [ -z "$engine" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    engine=docker
  else
    if ! command -v podman >/dev/null 2>&1; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "no Docker engine and no podman: installing podman and runc with apt-get"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc \
          >/dev/null) || skip "podman could not be installed with apt-get"
      else
        skip "no Docker engine answers and podman is not installed (and cannot be: not root or no apt-get)"
      fi
    fi
    engine=podman
  fi
fi
run_opts=()
build_opts=()
if [ "$engine" = podman ]; then
  # crun fails on this kind of kernel's rlimits/cgroups; runc with explicit ulimits works.
  command -v runc >/dev/null 2>&1 && run_opts+=(--runtime runc)
  run_opts+=(--ulimit nofile=1024:20000 --ulimit nproc=4096:4096)
  # --layers=false: no intermediate images left behind (the npm cache mount still speeds reruns).
  build_opts+=("${run_opts[@]}" --format docker --layers=false)
  podman info >/dev/null 2>&1 || skip "podman is installed but 'podman info' fails: $(podman info 2>&1 | tail -1)"
fi
say "engine: $engine $("$engine" --version | head -1)"

id=$(node -e "process.stdout.write(require('crypto').randomBytes(4).toString('hex'))")
image=localhost/switchyard-test:$id
base_image=node:20-bookworm-slim
standin=
cp_name=sy-ctest-cp-$id
worker_name=sy-ctest-worker-$id
worker_id=ctest-$id
prefix="sytest:ctr:$id:"
namespace="sytest-ctr-$id."
admin_token=ctest-admin-$(node -e "process.stdout.write(require('crypto').randomBytes(16).toString('hex'))")
agent_token=ctest-agent-$(node -e "process.stdout.write(require('crypto').randomBytes(16).toString('hex'))")
volumes=("sy-ctest-cp-state-$id" "sy-ctest-w-state-$id" "sy-ctest-w-reports-$id")
redis_url=${REDIS_URL:-redis://127.0.0.1:6379}
amqp_url=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672}

cleanup() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ]; then
    for c in "$cp_name" "$worker_name"; do
      "$engine" container exists "$c" 2>/dev/null || "$engine" inspect "$c" >/dev/null 2>&1 || continue
      echo "---- last log lines of $c ----"
      "$engine" logs --tail 40 "$c" 2>&1 | cut -c1-400
    done
  fi
  # -v: also the anonymous volumes made for the image's VOLUMEs a container did not mount.
  "$engine" rm -f -v -t 2 "$cp_name" "$worker_name" >/dev/null 2>&1 ||
    "$engine" rm -f -v "$cp_name" "$worker_name" >/dev/null 2>&1
  "$engine" volume rm -f "${volumes[@]}" >/dev/null 2>&1
  [ "${KEEP_IMAGE:-}" = 1 ] || "$engine" rmi -f "$image" >/dev/null 2>&1
  [ -n "$standin" ] && "$engine" rmi -f "$standin" >/dev/null 2>&1
  if [ -f dist/src/bus/bus-topology.js ]; then
    node scripts/container-test-cleanup.js "$prefix" "$namespace" \
      "cp-$id" "worker-$id" "worker.$worker_id" \
      "code-reviewer@$worker_id" "doc-writer@$worker_id" "echo@$worker_id" \
      "security-auditor@$worker_id" "test-runner@$worker_id" ||
      echo "test:container: cleanup of Redis keys / bus objects failed (they expire on their own)"
  fi
  say "cleaned up; $([ $rc -eq 0 ] && echo PASSED || echo FAILED) in $(($(date +%s) - started)) s"
  exit $rc
}
trap cleanup EXIT

[ -f dist/src/bus/bus-topology.js ] || npm run build --silent

# ---- 1. build --------------------------------------------------------------------------------
if ! "$engine" image inspect "$base_image" >/dev/null 2>&1; then
  if [ "$engine" = docker ] && docker pull -q "$base_image" >/dev/null 2>&1; then
    :
  else
    standin=localhost/switchyard-test-node20:$id
    say "no $base_image here and no registry: building a stand-in from the host's Node.js"
    bash docker/make-standin-base.sh "$engine" "$standin"
    base_image=$standin
    build_opts+=(--pull=never)
  fi
fi
ca_args=()
# Behind a TLS-inspecting proxy npm needs the host's CA bundle (the stand-in base carries it).
host_ca=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
if [ -n "$standin" ] && [ -f "$host_ca" ]; then
  ca_args=(--build-arg "NODE_EXTRA_CA_CERTS=$host_ca")
fi
say "building $image from docker/Dockerfile (base $base_image)"
build_started=$(date +%s)
"$engine" build "${build_opts[@]}" --network=host "${ca_args[@]}" \
  --build-arg "NODE_IMAGE=$base_image" \
  --build-arg "VERSION=$(node -p 'require("./package.json").version')" \
  --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$image" -f docker/Dockerfile . >/tmp/switchyard-ctest-build-$id.log 2>&1 || {
  tail -40 /tmp/switchyard-ctest-build-$id.log
  fail "image build failed (log: /tmp/switchyard-ctest-build-$id.log)"
}
say "built in $(($(date +%s) - build_started)) s"

# ---- 2. image checks -------------------------------------------------------------------------
budget_mb=${IMAGE_SIZE_BUDGET_MB:-250}
size=$("$engine" image inspect "$image" --format '{{.Size}}')
size_mb=$((size / 1000000))
say "image size: $size_mb MB (budget $budget_mb MB)"
[ "$size_mb" -le "$budget_mb" ] || fail "image is $size_mb MB, over the $budget_mb MB budget"

user=$("$engine" image inspect "$image" --format '{{.Config.User}}')
[[ "$user" =~ ^[1-9][0-9]*(:[0-9]+)?$ ]] || fail "image USER is '$user', not a numeric non-root uid"
say "USER $user (numeric, non-root)"
for label in title version revision created source licenses; do
  v=$("$engine" image inspect "$image" --format "{{index .Config.Labels \"org.opencontainers.image.$label\"}}")
  [ -n "$v" ] && [ "$v" != "<no value>" ] || fail "OCI label org.opencontainers.image.$label missing"
done
hc=$("$engine" image inspect "$image" --format '{{json .Config.Healthcheck}}')
[[ "$hc" == *healthcheck.js* ]] || fail "no HEALTHCHECK in the image config: $hc"
say "OCI labels and HEALTHCHECK present"

in_image() {
  "$engine" run --rm "${run_opts[@]}" --network none --entrypoint sh "$image" -c "$1" \
    2> >(grep -v 'systemd connection' >&2)
}
report=$(in_image '
  set -e
  echo "uid=$(id -u) gid=$(id -g)"
  echo "lua=$(find /app/dist/src -name "*.lua" | wc -l)"
  echo "specs=$(find /app /workspace -name "*.spec.*" -not -path "*/node_modules/*" | wc -l)"
  echo "appts=$(find /app -name "*.ts" -not -path "*/node_modules/*" | wc -l)"
  echo "tests=$(ls -d /app/test /app/bench /app/src /app/coverage 2>/dev/null | wc -l)"
  dev=""; for d in jest @swc/core eslint prettier supertest fast-check @nestjs/testing s3rver; do
    [ -e /app/node_modules/$d ] && dev="$dev $d"; done; echo "devdeps=${dev:-none}"
  echo "npm=$(command -v npm || echo none)"
  echo "approot=$(stat -c %u /app /app/dist /app/node_modules | sort -u | tr "\n" " ")"
  echo "writable=$(stat -c %u:%a /var/lib/switchyard /workspace/reports | tr "\n" " ")"
')
echo "$report" | sed 's/^/    /'
grep -q '^uid=10001 gid=10001$' <<<"$report" || fail "container does not run as uid/gid 10001"
lua=$(sed -n 's/^lua=//p' <<<"$report")
src_lua=$(find src -name '*.lua' | wc -l)
[ "$lua" = "$src_lua" ] || fail "$lua Lua scripts in the image's dist/, $src_lua in src/"
grep -q '^specs=0$' <<<"$report" || fail "test files in the image"
grep -q '^appts=0$' <<<"$report" || fail "TypeScript sources under /app"
grep -q '^tests=0$' <<<"$report" || fail "test/bench/src/coverage directories under /app"
grep -q '^devdeps=none$' <<<"$report" || fail "dev dependencies in the image: $(sed -n 's/^devdeps=//p' <<<"$report")"
grep -q '^npm=none$' <<<"$report" || fail "npm is still in the final image"
grep -q '^approot=0 $' <<<"$report" || fail "/app is not root-owned (the app must not be able to rewrite itself)"

# ---- 3. run a control plane and a worker -----------------------------------------------------
free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})"
}
cp_port=$(free_port)
worker_port=$(free_port)
agent_sha=$(printf '%s' "$agent_token" | sha256sum | cut -d' ' -f1)
common_env=(
  -e "REDIS_URL=$redis_url" -e "AMQP_URL=$amqp_url"
  -e "REDIS_KEY_PREFIX=$prefix" -e "BUS_NAMESPACE=$namespace" -e BUS_TRANSPORT=rabbitmq
  -e BUS_AGENT_QUEUE_EXPIRES_MS=300000 -e BUS_TASK_TTL_MS=240000 -e BUS_REPLY_QUEUE_EXPIRES_MS=300000
  -e LOG_LEVEL=warn
)
# Read-only root filesystem; the only writable places are the image's documented volumes (named
# volumes here) and, under podman, its default tmpfs mounts (/tmp, /run, /var/tmp).
say "starting control plane $cp_name on port $cp_port (read-only rootfs)"
"$engine" run -d --name "$cp_name" "${run_opts[@]}" --network host --read-only \
  -v "${volumes[0]}:/var/lib/switchyard" \
  "${common_env[@]}" -e "PORT=$cp_port" -e HOST=127.0.0.1 -e "BUS_INSTANCE_ID=cp-$id" \
  -e "SWITCHYARD_ADMIN_TOKEN=$admin_token" \
  -e "SWITCHYARD_API_KEYS=[{\"name\":\"worker-$id\",\"role\":\"agent\",\"agentId\":\"code-reviewer@$worker_id\",\"sha256\":\"$agent_sha\"}]" \
  "$image" serve >/dev/null 2> >(grep -v 'systemd connection' >&2)

running() { [ "$("$engine" inspect "$1" --format '{{.State.Running}}' 2>/dev/null)" = true ]; }
wait_http() { # url status timeout_s container
  local url=$1 want=$2 deadline=$(($(date +%s) + $3)) got=
  while [ "$(date +%s)" -le "$deadline" ]; do
    running "$4" || fail "$4 exited: $("$engine" logs --tail 5 "$4" 2>&1 | grep -v '\[InstanceLoader\]' | tail -3)"
    got=$(curl -s -o /tmp/switchyard-ctest-body-$id -w '%{http_code}' --max-time 3 "$url" || true)
    [ "$got" = "$want" ] && return 0
    sleep 1
  done
  echo "last answer from $url: $got $(head -c 600 /tmp/switchyard-ctest-body-$id 2>/dev/null)"
  return 1
}
wait_http "http://127.0.0.1:$cp_port/health/ready" 200 90 "$cp_name" || fail "control plane never became ready"
say "control plane ready: $(head -c 300 /tmp/switchyard-ctest-body-$id)"
grep -q '"state-store":{"status":"up"' /tmp/switchyard-ctest-body-$id ||
  fail "the control plane's local state store is not up (volume not writable?)"
# The console ships in the image: its page and the vendored layout library (dist/public).
for asset in / /status-page/app.js /status-page/dagre.js; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$cp_port$asset" || true)
  [ "$code" = 200 ] || fail "the console's $asset answers $code in the image"
done
say "the console (/, app.js, dagre.js) is served from the image"

say "starting worker $worker_name (example agents, agent-scoped token, read-only rootfs)"
"$engine" run -d --name "$worker_name" "${run_opts[@]}" --network host --read-only \
  -v "${volumes[1]}:/var/lib/switchyard" -v "${volumes[2]}:/workspace/reports" \
  "${common_env[@]}" -e "WORKER_ID=$worker_id" -e "BUS_INSTANCE_ID=worker-$id" \
  -e "WORKER_HTTP_PORT=$worker_port" -e WORKER_HTTP_HOST=127.0.0.1 \
  -e "SWITCHYARD_URL=http://127.0.0.1:$cp_port" -e "SWITCHYARD_TOKEN=$agent_token" \
  "$image" worker --agents /app/examples/agents >/dev/null 2> >(grep -v 'systemd connection' >&2)
wait_http "http://127.0.0.1:$worker_port/health/ready" 200 90 "$worker_name" || fail "worker never became ready"
say "worker ready: $(head -c 300 /tmp/switchyard-ctest-body-$id)"
"$engine" exec "$worker_name" sh -c 'test -z "${SWITCHYARD_ADMIN_TOKEN:-}"' ||
  fail "the worker container sees the admin token"
# The worker's token authenticates as an agent key scoped to one agent id (not an admin token),
# and is refused (403) where only people go.
whoami=$(curl -s --max-time 5 -H "Authorization: Bearer $agent_token" "http://127.0.0.1:$cp_port/v1/whoami" || true)
[[ "$whoami" == *'"role":"agent"'*'"agentId":"code-reviewer@'* ]] ||
  fail "the worker's token is not an agent-scoped key: $whoami"
keys=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $agent_token" \
  -X POST -H 'content-type: application/json' -d '{}' "http://127.0.0.1:$cp_port/v1/circuit-breakers/x/reset" || true)
[ "$keys" = 403 ] || fail "the worker's agent key may reset a circuit breaker (answer $keys, want 403)"
say "the worker holds an agent-scoped key, not the admin token"
# (Read the whole body first: `curl | grep -q` fails under pipefail when grep exits early.)
worker_metrics=$(curl -s --max-time 10 "http://127.0.0.1:$worker_port/metrics" || true)
grep -q '^process_cpu_user_seconds_total' <<<"$worker_metrics" ||
  fail "the worker's /metrics has no process metrics: $(head -c 300 <<<"$worker_metrics")"
if [ "$engine" = podman ]; then
  # Without systemd podman runs no healthcheck timer; run the image's HEALTHCHECK by hand.
  podman healthcheck run "$cp_name" >/dev/null || fail "control plane HEALTHCHECK failed"
  podman healthcheck run "$worker_name" >/dev/null || fail "worker HEALTHCHECK failed"
  say "HEALTHCHECK passes in both containers"
fi
"$engine" exec "$cp_name" sh -c 'touch /app/x 2>/dev/null || touch /workspace/x 2>/dev/null' &&
  fail "the root filesystem is writable"
say "root filesystem is read-only; writes only go to the volumes"

# ---- the example workflow, end to end --------------------------------------------------------
say "running examples/workflows/review-and-document.json (CLI in the control-plane container)"
wf_started=$(date +%s)
"$engine" exec -e "SWITCHYARD_URL=http://127.0.0.1:$cp_port" -e "SWITCHYARD_TOKEN=$admin_token" \
  "$cp_name" node /app/bin/switchyard.js workflow run /app/examples/workflows/review-and-document.json \
  --follow --poll-interval 1 --timeout 180 ||
  fail "the example workflow did not complete"
say "workflow completed in $(($(date +%s) - wf_started)) s"
report_head=$("$engine" exec "$worker_name" head -c 2000 /workspace/reports/review-and-document.md) ||
  fail "no report in the worker's reports volume"
grep -q 'code-review' <<<"$report_head" || grep -qi 'finding\|export' <<<"$report_head" ||
  fail "the report does not look like a review: $(head -c 300 <<<"$report_head")"
say "report written by the worker: $(wc -c <<<"$report_head") bytes (first 2000 read)"

# ---- drain: SIGTERM stops the worker cleanly -------------------------------------------------
"$engine" stop -t 30 "$worker_name" >/dev/null 2> >(grep -v 'systemd connection' >&2)
code=$("$engine" inspect "$worker_name" --format '{{.State.ExitCode}}')
[ "$code" = 0 ] || fail "worker exited with $code on SIGTERM"
say "worker drained and exited 0 on SIGTERM"
