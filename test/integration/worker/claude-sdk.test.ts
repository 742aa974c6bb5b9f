import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ClaudeOutput } from '../../../src/worker/executors/claude.executor';
import type { ExecutionResult, ProgressStep } from '../../../src/worker/executors/executor.types';
import { ensureBuilt } from '../../support/processes';
import { agentDef, processAlive, waitFor } from '../../support/worker-fixtures';

const ROOT = resolve(__dirname, '../../..');
const RUNNER = resolve(ROOT, 'test/fixtures/fake-claude/run-sdk-executor.js');

const agent = agentDef({
  name: 'sdk-agent',
  executor: 'claude',
  systemPrompt: 'You are terse.',
  tools: ['Read'],
  model: 'sonnet',
  maxTurns: 3,
});
const request = { taskId: 'sdk-1', attempt: 0, capability: 'sdk-agent', payload: { prompt: 'hi' } };

interface Run {
  result: ExecutionResult;
  steps: ProgressStep[];
  cancelToResolvedMs?: number;
}

/**
 * The compiled executor with CLAUDE_RUNNER=sdk, in a plain Node process: the Agent SDK is ESM only
 * and Jest's module registry cannot load it (Node's require can). The SDK spawns the fake claude
 * through `pathToClaudeCodeExecutable`.
 */
function runSdk(config: Record<string, unknown>): Promise<Run> {
  return new Promise((res, rej) => {
    execFile(
      process.execPath,
      [RUNNER, JSON.stringify({ root: ROOT, request, agent, ...config })],
      { timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) rej(new Error(`${err.message}\n${stderr}`));
        else res(JSON.parse(stdout) as Run);
      },
    );
  });
}

describe('ClaudeExecutor with CLAUDE_RUNNER=sdk (@anthropic-ai/claude-agent-sdk driving the fake claude)', () => {
  let dir: string;
  beforeAll(async () => {
    await ensureBuilt();
  }, 300_000);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sy-claude-sdk-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the same steps and result as the CLI runner, with the agent settings passed through the SDK', async () => {
    const { result, steps } = await runSdk({ mode: 'success' });
    expect(result).toMatchObject({ ok: true, usage: { costUsd: 0.103028, turns: 2 } });
    expect(steps.map((s) => s.kind)).toEqual([
      'init',
      'tool_call',
      'tool_result',
      'text',
      'result',
    ]);
    const echoed = (result as { output: ClaudeOutput }).output.data as {
      flags: Record<string, unknown>;
      prompt: string;
    };
    expect(echoed.flags).toMatchObject({
      '--input-format': 'stream-json',
      '--output-format': 'stream-json',
      '--allowedTools': 'Read',
      '--model': 'sonnet',
      '--max-turns': '3',
    });
    expect(JSON.stringify(echoed.flags)).toContain('You are terse.');
    expect(echoed.prompt).toContain('Switchyard task sdk-1');
  });

  it('recognises the recorded 429 as rate_limited', async () => {
    const { result } = await runSdk({ mode: 'ratelimit' });
    expect(result).toMatchObject({
      ok: false,
      error: { type: 'rate_limited', details: { status: 429, apiRetries: 2 } },
    });
  });

  it('kills a stalled run (its process group) and keeps the session id', async () => {
    const pidFile = join(dir, 'pids');
    const { result } = await runSdk({
      mode: 'stall',
      // Long enough for the SDK and the fake to start and emit their init event on a busy
      // machine (at 1 s the watchdog sometimes fired first: a stall with no session id yet).
      stallMs: 3000,
      env: { FAKE_CLAUDE_PIDFILE: pidFile },
    });
    expect(result).toMatchObject({
      ok: false,
      error: { type: 'stalled', details: { sessionId: 'ae47d6ab-f44f-4aa2-8275-6e9c831e1318' } },
    });
    const [pid, grandchild] = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
    expect(await waitFor(() => !processAlive(pid) && !processAlive(grandchild), 2000)).toBe(true);
  });

  it('cancel ends the run and kills everything within a second', async () => {
    const pidFile = join(dir, 'pids');
    const { result, cancelToResolvedMs } = await runSdk({
      mode: 'stall',
      env: { FAKE_CLAUDE_PIDFILE: pidFile },
      cancelWhenFile: pidFile,
    });
    expect(result).toMatchObject({ ok: false, error: { type: 'cancelled' } });
    expect(cancelToResolvedMs).toBeLessThan(1000);
    expect(existsSync(pidFile)).toBe(true);
    const [pid, grandchild] = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
    expect(await waitFor(() => !processAlive(pid) && !processAlive(grandchild), 1000)).toBe(true);
  });
});
