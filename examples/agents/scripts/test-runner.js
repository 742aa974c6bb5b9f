#!/usr/bin/env node
'use strict';
// Switchyard `command` agent: reads one task as JSON on stdin, runs `node --test` on
// payload.files (never through a shell) and writes one JSON result on stdout.
// Exit code 0 = the agent did its job (even when tests fail: that is the result);
// non-zero with a message on stderr = the task could not be run.
//
// Payload data reaches argv only as operands, after `--`, and only once each entry passed
// checkOperand: never as an option (no leading `-`), no control characters (newlines, NUL),
// relative, inside the working directory once symlinks are resolved, and an existing regular
// file. The rules are in docs/SECURITY.md ("How payload data may reach a process").
const { spawnSync } = require('node:child_process');
const { realpathSync, statSync } = require('node:fs');
const { isAbsolute, relative, resolve } = require('node:path');

function fail(message) {
  process.stderr.write(`test-runner: ${message}\n`);
  process.exit(2);
}

const MAX_FILES = 200;
const MAX_PATH_CHARS = 1024;

function inside(root, full) {
  const rel = relative(root, full);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** Returns the entry if it may be passed to `node --test` as a file operand; fails otherwise. */
function checkOperand(entry, index) {
  const what = `payload.files[${index}]`;
  if (typeof entry !== 'string' || entry.length === 0 || entry.length > MAX_PATH_CHARS) {
    fail(`${what} must be a path of 1-${MAX_PATH_CHARS} characters`);
  }
  if (/[\u0000-\u001f\u007f]/.test(entry)) fail(`${what} contains a control character`);
  if (entry.startsWith('-')) fail(`${what} starts with '-' (options are not accepted)`);
  if (isAbsolute(entry)) fail(`${what} must be relative to the working directory`);
  const root = realpathSync(process.cwd());
  const full = resolve(root, entry);
  if (!inside(root, full)) fail(`${what} is outside the working directory`);
  let real;
  try {
    real = realpathSync(full);
  } catch {
    fail(`${what} does not exist: ${entry}`);
  }
  if (!inside(root, real)) fail(`${what} leads outside the working directory`);
  if (!statSync(real).isFile()) fail(`${what} is not a file: ${entry}`);
  return entry;
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
  if (!Array.isArray(files) || files.length === 0 || files.length > MAX_FILES) {
    fail(`payload.files must be a list of 1-${MAX_FILES} test file paths`);
  }
  const operands = files.map(checkOperand);
  const started = Date.now();
  // `--` ends node's options: whatever follows is a file to test, never a flag.
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', '--', ...operands], {
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
