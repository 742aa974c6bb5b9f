#!/usr/bin/env node
// An external agent as a plain HTTP service (no dependencies): Switchyard's worker POSTs each
// task to it as JSON {taskId, attempt, capability, payload, inputs, workflowId?, ref?} and takes
// the JSON response body as the task's output. A 5xx answer is retried, a 4xx is not.
//   node examples/curl/docs-agent-server.js [port]     (default 8787, or $PORT)
'use strict';
const { createServer } = require('node:http');

const port = Number(process.argv[2] || process.env.PORT || 8787);
const server = createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST' }).end();
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    let task;
    try {
      task = JSON.parse(body);
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'body is not JSON' }));
      return;
    }
    // The "work": a line of documentation per step, built from the payload and the outputs of
    // the steps this one depends on (task.inputs, by ref).
    const previous = Object.keys(task.inputs || {}).filter((k) => !/^[0-9a-f-]{36}$/.test(k));
    const output = {
      step: task.ref || task.taskId,
      text: `${task.ref || 'task'} done for ${JSON.stringify(task.payload ?? null)}`,
      after: previous,
    };
    process.stdout.write(`docs-agent: ${task.ref || task.taskId} (attempt ${task.attempt})\n`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(output));
  });
});
server.listen(port, '127.0.0.1', () =>
  process.stdout.write(`docs-agent listening on http://127.0.0.1:${port}/\n`),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
