/**
 * The `command` agent of the chaos run (compiled to dist/bench/chaos/chaos-agent.js and run by the
 * workers as `node <that file>`). Every execution appends JSON lines to payload.logFile:
 * `start` (task, attempt, its pid, the worker's pid, its `sleep` grandchild's pid), then `end`
 * (ok or failed) when the grandchild has slept payload.ms. payload.failPct percent of executions
 * fail with a non-zero exit (a retryable agent error).
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';

interface ChaosInput {
  payload: { logFile: string; ms: number; failPct: number };
}

let input = '';
process.stdin.on('data', (d: Buffer) => (input += d.toString('utf8')));
process.stdin.on('end', () => {
  const task = JSON.parse(input) as ChaosInput;
  const { logFile, ms, failPct } = task.payload;
  const base = {
    taskId: process.env.SWITCHYARD_TASK_ID,
    attempt: Number(process.env.SWITCHYARD_ATTEMPT),
    pid: process.pid,
    ppid: process.ppid,
  };
  const log = (line: Record<string, unknown>) =>
    appendFileSync(logFile, `${JSON.stringify({ ...base, at: Date.now(), ...line })}\n`);
  const child = spawn('sleep', [(ms / 1000).toFixed(3)], { stdio: 'ignore' });
  log({ event: 'start', childPid: child.pid });
  child.on('exit', () => {
    const fail = Math.random() * 100 < failPct;
    log({ event: 'end', ok: !fail });
    if (fail) {
      process.stderr.write('chaos: injected failure\n');
      process.exit(1);
    }
    process.stdout.write(JSON.stringify({ pid: process.pid, attempt: base.attempt }));
    process.exit(0);
  });
});
