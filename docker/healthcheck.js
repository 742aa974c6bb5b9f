#!/usr/bin/env node
// Container HEALTHCHECK: GET /health/live of the role this container runs. A worker (`worker`
// in PID 1's command line) answers on WORKER_HTTP_PORT, the control plane on PORT.
'use strict';
const { readFileSync } = require('node:fs');

let args = [];
try {
  args = readFileSync('/proc/1/cmdline', 'utf8').split('\0');
} catch {
  // not Linux or no /proc: assume the control plane
}
const worker = args.includes('worker');
const port = worker ? process.env.WORKER_HTTP_PORT || '9464' : process.env.PORT || '3000';
fetch(`http://127.0.0.1:${port}/health/live`, { signal: AbortSignal.timeout(2500) })
  .then((r) => process.exit(r.ok ? 0 : 1))
  .catch(() => process.exit(1));
