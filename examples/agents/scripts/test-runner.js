#!/usr/bin/env node
'use strict';
// Switchyard `command` agent: reads one task as JSON on stdin, runs `node --test` on
// payload.files (never through a shell) and writes one JSON result on stdout.
// Exit code 0 = the agent did its job (even when tests fail: that is the result);
// non-zero with a message on stderr = the task could not be run.
const { spawnSync } = require('node:child_process');

function fail(message) {
  process.stderr.write(`test-runner: ${message}\n`);
  process.exit(2);
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  let task;
  try {
    task = JSON.parse(input);
  } catch (e) {
    fail(`stdin is not JSON: ${e.message}`);
  }
  const files = task && task.payload && task.payload.files;
  if (!Array.isArray(files) || files.length === 0 || !files.every((f) => typeof f === 'string')) {
    fail('payload.files must be a non-empty list of test file paths');
  }
  const started = Date.now();
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...files], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (run.error) fail(`cannot run node --test: ${run.error.message}`);
  const output = `${run.stdout}${run.stderr}`;
  const count = (label) => {
    const match = new RegExp(`^# ${label} (\\d+)$`, 'm').exec(run.stdout);
    return match ? Number(match[1]) : 0;
  };
  const result = {
    ok: run.status === 0,
    exitCode: run.status,
    files,
    tests: count('tests'),
    passed: count('pass'),
    failed: count('fail'),
    skipped: count('skipped'),
    durationMs: Date.now() - started,
    outputTail: output.slice(-4000),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
});
