#!/usr/bin/env bash
# Makes sure the local Redis and RabbitMQ answer; starts them if they do not (the commands are the
# ones this machine's services were started with). Safe to run any number of times.
set -uo pipefail

# The binaries, not only the services: npm run test:ha (and the broker-killing tests) start their
# own redis-server (also as Sentinels: redis-server --sentinel) and rabbitmq-server nodes.
# Installed from Debian when missing; policy-rc.d keeps the packages from starting their services.
RABBITMQ_SBIN=${RABBITMQ_SBIN:-/usr/lib/rabbitmq/bin}
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1 ||
  [ ! -x "$RABBITMQ_SBIN/rabbitmq-server" ] || [ ! -x "$RABBITMQ_SBIN/rabbitmqctl" ]; then
  echo "ensure-services: installing redis-server and rabbitmq-server (Debian packages)"
  no_start=/usr/sbin/policy-rc.d
  [ -e "$no_start" ] || { printf '#!/bin/sh\nexit 101\n' >"$no_start" && chmod +x "$no_start" && created_policy=1; }
  apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      redis-server redis-tools rabbitmq-server >/dev/null
  [ -z "${created_policy:-}" ] || rm -f "$no_start"
fi
for bin in redis-server redis-cli "$RABBITMQ_SBIN/rabbitmq-server" "$RABBITMQ_SBIN/rabbitmqctl"; do
  command -v "$bin" >/dev/null 2>&1 || { echo "ensure-services: $bin is missing" >&2; exit 1; }
done

redis_ok() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
rabbit_ok() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && rabbitmqctl -q await_startup >/dev/null 2>&1; }

if ! redis_ok; then
  echo "ensure-services: starting Redis on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 50); do redis_ok && break; sleep 0.2; done
fi
redis_ok || { echo "ensure-services: Redis did not come up" >&2; exit 1; }

if ! rabbit_ok; then
  echo "ensure-services: starting RabbitMQ on 127.0.0.1:5672"
  rabbitmq-server -detached 2>/dev/null || true
  for _ in $(seq 1 120); do rabbit_ok && break; sleep 1; done
  # A node left with its app stopped by an interrupted test answers rabbitmqctl but not AMQP.
  if ! rabbit_ok; then rabbitmqctl start_app >/dev/null 2>&1 || true; sleep 3; fi
fi
rabbit_ok || { echo "ensure-services: RabbitMQ did not come up" >&2; exit 1; }
echo "ensure-services: Redis and RabbitMQ answer"
