import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { ClaudeExecutor, type ClaudeOutput } from '../../../src/worker/executors/claude.executor';
import { ExecutionAborted } from '../../../src/worker/executors/execution-error';
import type { ProgressStep } from '../../../src/worker/executors/executor.types';
import {
  agentDef,
  execContext,
  processAlive,
  testExecutorOptions,
  waitFor,
} from '../../support/worker-fixtures';

const FAKE_DIR = resolve(__dirname, '../../fixtures/fake-claude');

const agent = agentDef({ name: 'streamer', executor: 'claude', tools: ['Read'] });
const request = {
  taskId: 'task-s1',
  attempt: 0,
  capability: 'streamer',
  payload: { prompt: 'go' },
};

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
        ...extraEnv,
      },
      // The fake's switches reach it the way an operator's own variables would (WORKER_PASS_ENV).
      passEnv: ['FAKE_CLAUDE_*'],
      ...overrides,
    }),
  );
}

function recording(signal?: AbortSignal) {
  const steps: (ProgressStep & { at: number })[] = [];
  const ctx = {
    ...execContext(agent, signal),
    progress: (s: ProgressStep) => steps.push({ ...s, at: Date.now() }),
  };
  return { steps, ctx };
}

const pids = (file: string) => readFileSync(file, 'utf8').trim().split(' ').map(Number);

describe('ClaudeExecutor live stream (fake claude printing the recorded Claude Code output)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sy-claude-stream-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('publishes the transcript steps in order while the run is still going', async () => {
    const { steps, ctx } = recording();
    const r = await executor('success', {
      FAKE_CLAUDE_EVENTS: '7',
      FAKE_CLAUDE_DELAY_MS: '150',
    }).execute(request, ctx);
    const ended = Date.now();
    expect(r.ok).toBe(true);
    expect(steps.map((s) => s.kind)).toEqual([
      'init',
      'tool_call',
      'tool_result',
      'tool_call',
      'tool_result',
      'text',
      'result',
    ]);
    expect(steps[1].summary).toBe('mcp__switchyard__delegate capability=echo');
    // The first step was published long before the process ended (5 more events × 150 ms).
    expect(ended - steps[0].at).toBeGreaterThanOrEqual(600);
  });

  it('kills a run that goes silent after system/init as stalled, keeping the session id; the next attempt resumes it', async () => {
    const pidFile = join(dir, 'pids');
    const env = { FAKE_CLAUDE_PIDFILE: pidFile, FAKE_CLAUDE_STALL_UNLESS_RESUMED: '1' };
    const ex = executor('stall', env, { claudeStallMs: 1000 });
    const { steps, ctx } = recording();
    const started = Date.now();
    const r = await ex.execute(request, ctx);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(r).toMatchObject({
      ok: false,
      error: {
        type: 'stalled',
        retryable: true,
        details: {
          sessionId: 'ae47d6ab-f44f-4aa2-8275-6e9c831e1318',
          resumed: false,
          stallSeconds: 1,
        },
      },
    });
    expect(steps.map((s) => s.kind)).toEqual(['init']);
    const [claudePid, grandchild] = pids(pidFile);
    expect(await waitFor(() => !processAlive(claudePid) && !processAlive(grandchild), 2000)).toBe(
      true,
    );

    const sessionId = (r as { error: { details: { sessionId: string } } }).error.details.sessionId;
    const second = recording();
    const again = await ex.execute(
      { ...request, attempt: 1, resumeSessionId: sessionId },
      second.ctx,
    );
    expect(again.ok).toBe(true);
    const out = (again as { output: ClaudeOutput }).output;
    expect(out).toMatchObject({ resumed: true, sessionId });
    const echoed = out.data as { flags: Record<string, unknown>; prompt: string };
    expect(echoed.flags['--resume']).toBe(sessionId);
    expect(echoed.prompt).toContain('Continue from where you stopped');
    expect(second.steps[0]).toMatchObject({
      kind: 'note',
      summary: `resuming Claude session ${sessionId}`,
    });
  });

  it('does not resume for an agent with resume: false', async () => {
    const ex = executor('success');
    const r = await ex.execute(
      { ...request, resumeSessionId: 'abc' },
      execContext(agentDef({ name: 'x', executor: 'claude', resume: false })),
    );
    const out = (r as { output: ClaudeOutput }).output;
    expect((out.data as { flags: Record<string, unknown> }).flags['--resume']).toBeUndefined();
    expect(out.resumed).toBeUndefined();
  });

  it('a timeout of a silent run keeps the session id for the next attempt', async () => {
    const r = await executor('stall', { FAKE_CLAUDE_PIDFILE: join(dir, 'p') }).execute(
      { ...request, timeoutMs: 800 },
      execContext(agent),
    );
    expect(r).toMatchObject({
      ok: false,
      error: { type: 'timeout', details: { sessionId: 'ae47d6ab-f44f-4aa2-8275-6e9c831e1318' } },
    });
  });

  it('cancel during a stream kills every process within a second', async () => {
    const pidFile = join(dir, 'pids');
    const controller = new AbortController();
    const { steps, ctx } = recording(controller.signal);
    const running = executor('stall', { FAKE_CLAUDE_PIDFILE: pidFile }).execute(request, ctx);
    expect(await waitFor(() => steps.length > 0 && existsSync(pidFile), 5000)).toBe(true);
    const [claudePid, grandchild] = pids(pidFile);
    const at = Date.now();
    controller.abort(new ExecutionAborted('cancelled'));
    expect(await running).toMatchObject({ ok: false, error: { type: 'cancelled' } });
    expect(await waitFor(() => !processAlive(claudePid) && !processAlive(grandchild), 1000)).toBe(
      true,
    );
    expect(Date.now() - at).toBeLessThan(1000);
  });

  it('fails a recorded 429 as retryable rate_limited with a retry time (backoff, or the reset time in the text)', async () => {
    const { steps, ctx } = recording();
    const before = Date.now();
    const r = await executor('ratelimit', {}, { claudeRateLimitBackoffMs: 120_000 }).execute(
      request,
      ctx,
    );
    expect(r).toMatchObject({
      ok: false,
      error: {
        type: 'rate_limited',
        retryable: true,
        details: {
          status: 429,
          errorType: 'rate_limit_error',
          source: 'backoff',
          apiRetries: 2,
          isError: true,
          subtype: 'success',
        },
      },
    });
    const retryAt = Date.parse(
      (r as { error: { details: { retryAt: string } } }).error.details.retryAt,
    );
    expect(retryAt).toBeGreaterThanOrEqual(before + 120_000);
    expect(steps.map((s) => s.kind)).toEqual([
      'init',
      'api_retry',
      'api_retry',
      'api_error',
      'result',
    ]);

    const reset = Math.floor(Date.now() / 1000) + 3600;
    const r2 = await executor('ratelimit', {
      FAKE_CLAUDE_RESULT_TEXT: `Claude AI usage limit reached|${reset}`,
    }).execute(request, execContext(agent));
    expect(r2).toMatchObject({
      ok: false,
      error: {
        type: 'rate_limited',
        details: { source: 'reset_time', retryAt: new Date(reset * 1000).toISOString() },
      },
    });
  });

  it('surfaces refused Switchyard tools (permission_denials) as a warning on a successful run', async () => {
    const { steps, ctx } = recording();
    const r = await executor('permission_denied').execute(request, ctx);
    expect(r.ok).toBe(true);
    const out = (r as { output: ClaudeOutput }).output;
    expect(out.permissionDenials).toEqual([
      {
        tool: 'mcp__switchyard__delegate',
        input: { capability: 'echo', payload: { marker: 'MARK-noperm' } },
      },
    ]);
    expect(out.warnings?.[0]).toMatch(/refused the Switchyard tool\(s\) mcp__switchyard__delegate/);
    expect(steps.at(-1)).toMatchObject({
      kind: 'note',
      summary: expect.stringContaining('warning:'),
    });
  });

  it('passes the Switchyard MCP server when the context has one', async () => {
    const ctx = { ...execContext(agent), switchyard: { url: 'http://127.0.0.1:9', token: 't0k' } };
    const r = await executor('success').execute(request, ctx);
    const out = (r as { output: ClaudeOutput }).output;
    // Without test/fixtures/fake-claude/mcp-actions.js the fake echoes its flags.
    if (existsSync(join(FAKE_DIR, 'mcp-actions.js'))) {
      console.warn('mcp-actions.js present: the MCP flag check is done by the MCP tests');
      return;
    }
    const flags = (out.data as { flags: Record<string, string> }).flags;
    expect(flags['--allowedTools']).toBe('Read,mcp__switchyard__*');
    expect(flags['--strict-mcp-config']).toBe(true);
    expect(JSON.parse(flags['--mcp-config'])).toMatchObject({
      mcpServers: {
        switchyard: { url: 'http://127.0.0.1:9/mcp', headers: { Authorization: 'Bearer t0k' } },
      },
    });
  });
});

describe('ClaudeExecutor worktree isolation', () => {
  let repo: string;
  const g = (...args: string[]) =>
    execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
  beforeEach(() => {
    repo = mkdtempSync(join(tmpdir(), 'sy-claude-repo-'));
    g('init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'shared.txt'), 'base\n');
    g('add', '.');
    g('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'base');
  });
  afterEach(() => rmSync(repo, { recursive: true, force: true }));

  it('two writers editing one file in parallel end on two branches, each with its change', async () => {
    const writer = agentDef({
      name: 'writer',
      executor: 'claude',
      tools: ['Read', 'Edit'],
      maxConcurrency: 2,
    });
    const run = (taskId: string, text: string) =>
      executor(
        'write',
        {
          FAKE_CLAUDE_WRITE_FILE: 'shared.txt',
          FAKE_CLAUDE_WRITE_TEXT: text,
          FAKE_CLAUDE_DELAY_MS: '100',
        },
        { workspace: repo, isolation: 'worktree' },
      ).execute({ ...request, taskId }, execContext(writer));
    const [a, b] = await Promise.all([run('t-a', 'from A\n'), run('t-b', 'from B\n')]);
    for (const [r, id, text] of [
      [a, 't-a', 'from A\n'],
      [b, 't-b', 'from B\n'],
    ] as const) {
      expect(r.ok).toBe(true);
      const out = (r as { output: ClaudeOutput }).output;
      expect(out.workspace).toMatchObject({
        branch: `switchyard/${id}`,
        committedBy: 'worker',
        filesChanged: ['shared.txt'],
        diffStat: '1 file changed, 1 insertion(+)',
      });
      expect((out.data as { cwd: string }).cwd).not.toBe(repo);
      expect(g('show', `switchyard/${id}:shared.txt`)).toBe(`base\n${text}`.trim());
      expect(g('rev-parse', `switchyard/${id}`)).toBe(out.workspace?.commit);
    }
    // The shared workspace is untouched and no worktree is left.
    expect(readFileSync(join(repo, 'shared.txt'), 'utf8')).toBe('base\n');
    expect(g('worktree', 'list').split('\n')).toHaveLength(1);
  });

  it('read-only agents share the workspace', async () => {
    const reader = agentDef({ name: 'reader', executor: 'claude', tools: ['Read', 'Grep'] });
    const r = await executor('success', {}, { workspace: repo, isolation: 'worktree' }).execute(
      request,
      execContext(reader),
    );
    const out = (r as { output: ClaudeOutput }).output;
    expect((out.data as { cwd: string }).cwd).toBe(repo);
    expect(out.workspace).toBeUndefined();
  });
});
