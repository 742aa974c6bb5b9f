import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { ClaudeExecutor, type ClaudeOutput } from '../../../src/worker/executors/claude.executor';
import { ExecutionAborted } from '../../../src/worker/executors/execution-error';
import {
  agentDef,
  execContext,
  processAlive,
  testExecutorOptions,
  waitFor,
} from '../../support/worker-fixtures';

const FAKE_DIR = resolve(__dirname, '../../fixtures/fake-claude');

const reviewer = agentDef({
  name: 'code-reviewer',
  executor: 'claude',
  systemPrompt: 'You are a meticulous TypeScript reviewer.\nReport findings with file and line.',
  tools: ['Read', 'Grep', 'Glob', 'Bash(git diff:*)'],
  disallowedTools: ['WebFetch'],
  model: 'sonnet',
  maxTurns: 7,
  permissionMode: 'plan',
});

const request = {
  taskId: 'task-42',
  attempt: 0,
  capability: 'code-review',
  payload: { prompt: 'Review src/ for problems.', path: 'src' },
  inputs: { scan: { files: 3 } },
  workflowId: 'wf-1',
  ref: 'review',
};

/** The fake `claude` found on PATH, like the real one would be. */
function executor(
  mode: string,
  extraEnv: Record<string, string> = {},
  overrides: Parameters<typeof testExecutorOptions>[0] = {},
) {
  return new ClaudeExecutor(
    testExecutorOptions({
      env: {
        ...process.env,
        PATH: `${FAKE_DIR}${delimiter}${process.env.PATH ?? ''}`,
        FAKE_CLAUDE_MODE: mode,
        SWITCHYARD_ADMIN_TOKEN: 'must-not-leak',
        // The worker's other secrets (issue 14): an allow-list keeps them from the agent.
        AWS_SECRET_ACCESS_KEY: 'must-not-leak',
        S3_SECRET_ACCESS_KEY: 'must-not-leak',
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=must-not-leak',
        // What Claude Code itself needs does reach it.
        ANTHROPIC_API_KEY: 'sk-test',
        ...extraEnv,
      },
      // The fake's switches reach it the way an operator's own variables would (WORKER_PASS_ENV).
      passEnv: ['FAKE_CLAUDE_*'],
      ...overrides,
    }),
  );
}

describe('ClaudeExecutor (fake claude on PATH)', () => {
  it('maps the agent to claude flags, sends the task prompt and records cost, tokens and turns', async () => {
    const r = await executor('success').execute(request, execContext(reviewer));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.usage).toEqual({
      costUsd: 0.103028,
      inputTokens: 25422,
      outputTokens: 67,
      turns: 2,
      durationMs: 130,
    });
    const output = r.output as ClaudeOutput;
    expect(output.sessionId).toBe('a4b724fd-84d5-4f3f-89e5-98f952193c64');
    const echoed = output.data as {
      flags: Record<string, unknown>;
      prompt: string;
      env: Record<string, unknown>;
    };
    expect(echoed.flags).toEqual({
      '-p': true,
      '--output-format': 'stream-json',
      '--verbose': true,
      '--system-prompt': reviewer.systemPrompt,
      '--allowedTools': 'Read,Grep,Glob,Bash(git diff:*)',
      '--disallowedTools': 'WebFetch',
      '--model': 'sonnet',
      '--max-turns': '7',
      '--permission-mode': 'plan',
    });
    expect(echoed.prompt).toContain('task-42');
    expect(echoed.prompt).toContain('Review src/ for problems.');
    expect(echoed.prompt).toContain('"files": 3');
    expect(echoed.env).toEqual({ SWITCHYARD_TASK_ID: 'task-42', ANTHROPIC_API_KEY: 'sk-test' });
  });

  it('uses --append-system-prompt in append mode and leaves out flags the agent does not set', async () => {
    const plain = agentDef({
      name: 'plain',
      executor: 'claude',
      systemPrompt: 'Be brief.',
      model: 'inherit',
    });
    const r = await executor('success', {}, { claudeSystemPrompt: 'append' }).execute(
      request,
      execContext(plain),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const flags = ((r.output as ClaudeOutput).data as { flags: Record<string, unknown> }).flags;
    expect(flags).toEqual({
      '-p': true,
      '--output-format': 'stream-json',
      '--verbose': true,
      '--append-system-prompt': 'Be brief.',
    });
  });

  it('treats is_error: true as failure even when subtype is success', async () => {
    const r = await executor('is_error').execute(request, execContext(reviewer));
    expect(r).toMatchObject({
      ok: false,
      error: {
        type: 'agent_error',
        retryable: false,
        details: { subtype: 'success', isError: true },
      },
      usage: { costUsd: 0.103028, turns: 2 },
    });
    if (!r.ok) expect(r.error.message).toMatch(/Credit balance is too low/);
  });

  it('reports error_max_turns as max_turns and an overloaded API as retryable', async () => {
    expect(await executor('max_turns').execute(request, execContext(reviewer))).toMatchObject({
      ok: false,
      error: { type: 'max_turns', retryable: false },
      usage: { turns: 2 },
    });
    expect(await executor('overloaded').execute(request, execContext(reviewer))).toMatchObject({
      ok: false,
      error: {
        type: 'rate_limited',
        retryable: true,
        details: { status: 529, errorType: 'overloaded_error', source: 'backoff' },
      },
    });
  });

  it('fails with bad_output on non-JSON stdout and exit_nonzero with the stderr tail', async () => {
    expect(await executor('garbage').execute(request, execContext(reviewer))).toMatchObject({
      ok: false,
      error: { type: 'bad_output' },
    });
    const r = await executor('exit1').execute(request, execContext(reviewer));
    expect(r).toMatchObject({
      ok: false,
      error: { type: 'exit_nonzero', details: { exitCode: 1 } },
    });
    if (!r.ok) expect(r.error.message).toMatch(/Invalid API key/);
  });

  it('fails with not_found when the claude executable is missing', async () => {
    const r = await executor('success', {}, { claudeBin: '/nonexistent/claude' }).execute(
      request,
      execContext(reviewer),
    );
    expect(r).toMatchObject({ ok: false, error: { type: 'not_found' } });
  });

  describe('hanging claude', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'sy-claude-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const pids = (file: string) => readFileSync(file, 'utf8').trim().split(' ').map(Number);

    it('is killed with its process group at the timeout', async () => {
      const pidFile = join(dir, 'pids');
      const r = await executor('hang', { FAKE_CLAUDE_PIDFILE: pidFile }).execute(
        { ...request, timeoutMs: 500 },
        execContext(reviewer),
      );
      expect(r).toMatchObject({ ok: false, error: { type: 'timeout', retryable: true } });
      const [claudePid, grandchild] = pids(pidFile);
      expect(await waitFor(() => !processAlive(claudePid) && !processAlive(grandchild), 1000)).toBe(
        true,
      );
    });

    it('is killed with its process group within a second of cancellation', async () => {
      const pidFile = join(dir, 'pids');
      const controller = new AbortController();
      const running = executor('hang', { FAKE_CLAUDE_PIDFILE: pidFile }).execute(
        request,
        execContext(reviewer, controller.signal),
      );
      expect(
        await waitFor(
          () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes(' '),
          5000,
        ),
      ).toBe(true);
      const [claudePid, grandchild] = pids(pidFile);
      expect(processAlive(claudePid) && processAlive(grandchild)).toBe(true);
      const at = Date.now();
      controller.abort(new ExecutionAborted('cancelled'));
      expect(await running).toMatchObject({ ok: false, error: { type: 'cancelled' } });
      expect(await waitFor(() => !processAlive(claudePid) && !processAlive(grandchild), 1000)).toBe(
        true,
      );
      expect(Date.now() - at).toBeLessThan(1000);
    });
  });
});
