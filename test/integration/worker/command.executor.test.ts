import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandExecutor } from '../../../src/worker/executors/command.executor';
import { ExecutionAborted } from '../../../src/worker/executors/execution-error';
import {
  agentDef,
  execContext,
  processAlive,
  testExecutorOptions,
  waitFor,
} from '../../support/worker-fixtures';

const NODE = process.execPath;
const request = {
  taskId: 't-1',
  attempt: 0,
  capability: 'cmd',
  payload: { n: 2 },
  inputs: { up: 1 },
};

function nodeAgent(script: string, overrides: Parameters<typeof testExecutorOptions>[0] = {}) {
  const agent = agentDef({ name: 'cmd', executor: 'command', command: [NODE, '-e', script] });
  return { agent, executor: new CommandExecutor(agent.command!, testExecutorOptions(overrides)) };
}

describe('CommandExecutor (real processes)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sy-cmd-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the task JSON to stdin and takes JSON from stdout, with a minimal env', async () => {
    const { agent, executor } = nodeAgent(
      `
      let s = ''; process.stdin.on('data', c => s += c).on('end', () => {
        const input = JSON.parse(s);
        process.stdout.write(JSON.stringify({ input, env: {
          task: process.env.SWITCHYARD_TASK_ID, attempt: process.env.SWITCHYARD_ATTEMPT,
          agent: process.env.SWITCHYARD_AGENT, secret: process.env.SY_TEST_SECRET ?? null } }));
      });`,
      { env: { ...process.env, SY_TEST_SECRET: 'hunter2' } },
    );
    const r = await executor.execute(request, execContext(agent));
    expect(r).toMatchObject({
      ok: true,
      output: {
        input: {
          taskId: 't-1',
          attempt: 0,
          capability: 'cmd',
          payload: { n: 2 },
          inputs: { up: 1 },
        },
        env: { task: 't-1', attempt: '0', agent: 'cmd', secret: null },
      },
    });
    expect(r.usage?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('never uses a shell: metacharacters in argv are plain arguments', async () => {
    const agent = agentDef({
      name: 'cmd',
      executor: 'command',
      command: [
        NODE,
        '-e',
        'process.stdout.write(JSON.stringify(process.argv.slice(1)))',
        '$(touch x); echo *',
      ],
    });
    const r = await new CommandExecutor(agent.command!, testExecutorOptions({ cwd: dir })).execute(
      request,
      execContext(agent),
    );
    expect(r).toEqual(expect.objectContaining({ ok: true, output: ['$(touch x); echo *'] }));
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });

  it('fails with bad_output when stdout is not JSON', async () => {
    const { agent, executor } = nodeAgent(`process.stdout.write('hello, not json')`);
    const r = await executor.execute(request, execContext(agent));
    expect(r).toMatchObject({ ok: false, error: { type: 'bad_output', retryable: false } });
    if (!r.ok) expect(r.error.message).toMatch(/not JSON/);
  });

  it('fails with bad_output when stdout is empty', async () => {
    const { agent, executor } = nodeAgent(``);
    const r = await executor.execute(request, execContext(agent));
    expect(r).toMatchObject({ ok: false, error: { type: 'bad_output' } });
  });

  it('kills the process and fails with output_too_large when stdout passes the cap', async () => {
    const { agent, executor } = nodeAgent(
      `const b = 'x'.repeat(65536); (function w(){ while (process.stdout.write(b)); process.stdout.once('drain', w); })();`,
      { commandMaxOutputBytes: 100_000 },
    );
    const r = await executor.execute(request, execContext(agent));
    expect(r).toMatchObject({
      ok: false,
      error: {
        type: 'output_too_large',
        retryable: false,
        details: { stream: 'stdout', limitBytes: 100_000 },
      },
    });
  });

  it('fails with output_too_large when stderr passes its cap', async () => {
    const { agent, executor } = nodeAgent(
      `process.stderr.write('e'.repeat(5000)); setTimeout(() => {}, 5000)`,
      {
        commandMaxStderrBytes: 1000,
      },
    );
    const r = await executor.execute(request, execContext(agent));
    expect(r).toMatchObject({
      ok: false,
      error: { type: 'output_too_large', details: { stream: 'stderr' } },
    });
  });

  it('fails with exit_nonzero and the stderr tail on a non-zero exit', async () => {
    const { agent, executor } = nodeAgent(
      `process.stderr.write('noise '.repeat(1000) + '\\nfatal: the real reason'); process.exit(3)`,
    );
    const r = await executor.execute(request, execContext(agent));
    expect(r).toMatchObject({
      ok: false,
      error: { type: 'exit_nonzero', retryable: false, details: { exitCode: 3 } },
    });
    if (!r.ok) {
      expect(r.error.message).toMatch(/exited with code 3: .*fatal: the real reason$/s);
      expect((r.error.details as { stderrTail: string }).stderrTail.length).toBeLessThanOrEqual(
        2001,
      );
    }
  });

  it('fails with not_found when the executable does not exist', async () => {
    const agent = agentDef({
      name: 'cmd',
      executor: 'command',
      command: ['/nonexistent/agent-binary'],
    });
    const r = await new CommandExecutor(agent.command!, testExecutorOptions()).execute(
      request,
      execContext(agent),
    );
    expect(r).toMatchObject({ ok: false, error: { type: 'not_found', retryable: false } });
  });

  it('kills a hanging process (even one ignoring SIGTERM) at the timeout: retryable timeout', async () => {
    const pidFile = join(dir, 'pid');
    const { agent, executor } = nodeAgent(
      `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); process.on('SIGTERM', () => {}); setInterval(() => {}, 1000);`,
      { killGraceMs: 200 },
    );
    const started = Date.now();
    const r = await executor.execute({ ...request, timeoutMs: 400 }, execContext(agent));
    expect(r).toMatchObject({ ok: false, error: { type: 'timeout', retryable: true } });
    expect(Date.now() - started).toBeLessThan(5000);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(processAlive(pid)).toBe(false);
  });

  it('cancellation kills the whole process group, grandchild included, within a second', async () => {
    const pidFile = join(dir, 'pids');
    // The agent (a shell script, its own choice) starts a background grandchild and waits.
    const agent = agentDef({
      name: 'cmd',
      executor: 'command',
      command: ['sh', '-c', `sleep 1000 & echo "$$ $!" > ${pidFile}; wait`],
    });
    const executor = new CommandExecutor(agent.command!, testExecutorOptions());
    const controller = new AbortController();
    const running = executor.execute(request, execContext(agent, controller.signal));
    expect(
      await waitFor(
        () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim().split(' ').length === 2,
        5000,
      ),
    ).toBe(true);
    const [shPid, sleepPid] = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
    expect(processAlive(shPid)).toBe(true);
    expect(processAlive(sleepPid)).toBe(true);

    const cancelledAt = Date.now();
    controller.abort(new ExecutionAborted('cancelled'));
    const r = await running;
    expect(r).toMatchObject({ ok: false, error: { type: 'cancelled', retryable: false } });
    expect(await waitFor(() => !processAlive(shPid) && !processAlive(sleepPid), 1000)).toBe(true);
    expect(Date.now() - cancelledAt).toBeLessThan(1000);
  });

  it('kills background processes left behind by an agent that exited normally', async () => {
    const pidFile = join(dir, 'bg');
    const agent = agentDef({
      name: 'cmd',
      executor: 'command',
      command: [
        'sh',
        '-c',
        `sleep 1000 > /dev/null 2>&1 & echo $! > ${pidFile}; echo '{"done":true}'`,
      ],
    });
    const r = await new CommandExecutor(agent.command!, testExecutorOptions()).execute(
      request,
      execContext(agent),
    );
    expect(r).toMatchObject({ ok: true, output: { done: true } });
    const bg = Number(readFileSync(pidFile, 'utf8'));
    expect(await waitFor(() => !processAlive(bg), 1000)).toBe(true);
  });
});
