import { resolve } from 'node:path';
import { agentDef, execContext, testExecutorOptions } from '../../../test/support/worker-fixtures';
import { BuiltinExecutor } from './builtin.executor';
import { createExecutor, ExecutorConfigError } from './create-executor';
import { ExecutionAborted } from './execution-error';

const FIXTURES = resolve(__dirname, '../../../test/fixtures/worker');
const req = (payload: unknown = {}) => ({ taskId: 'b1', attempt: 0, capability: 'c', payload });

describe('BuiltinExecutor', () => {
  const options = testExecutorOptions();

  it('runs a registered handler', async () => {
    const agent = agentDef({ name: 'echo', handler: 'echo' });
    await expect(
      createExecutor(agent, options).execute(req({ a: 1 }), execContext(agent)),
    ).resolves.toMatchObject({
      ok: true,
      output: { a: 1 },
      usage: { durationMs: expect.any(Number) },
    });
  });

  it('runs a JS module exporting handle(request, ctx), relative to the agent file', async () => {
    const agent = agentDef({
      name: 'mod',
      handler: './module-handler.js',
      path: resolve(FIXTURES, 'mod.md'),
    });
    await expect(
      createExecutor(agent, options).execute(req(), execContext(agent)),
    ).resolves.toEqual(
      expect.objectContaining({
        ok: true,
        output: { fromModule: true, taskId: 'b1', agent: 'mod' },
      }),
    );
    const bad = agentDef({ name: 'bad', handler: resolve(FIXTURES, 'no-handle.js') });
    await expect(
      createExecutor(bad, options).execute(req(), execContext(bad)),
    ).resolves.toMatchObject({
      ok: false,
      error: { type: 'validation' },
    });
  });

  it('fails with not_found for a module path that does not exist', async () => {
    const agent = agentDef({
      name: 'gone',
      handler: './gone.js',
      path: resolve(FIXTURES, 'gone.md'),
    });
    await expect(
      createExecutor(agent, options).execute(req(), execContext(agent)),
    ).resolves.toMatchObject({
      ok: false,
      error: { type: 'not_found' },
    });
  });

  it('fails with not_found for an unknown handler name', async () => {
    const agent = agentDef({ name: 'x', handler: 'no-such-handler' });
    const r = await createExecutor(agent, options).execute(req(), execContext(agent));
    expect(r).toMatchObject({ ok: false, error: { type: 'not_found', retryable: false } });
    if (!r.ok) expect(r.error.message).toMatch(/known: .*code-reviewer/);
  });

  it('maps thrown errors: ExecutionFailure keeps its class, anything else is handler_error', async () => {
    const fail = agentDef({ name: 'f', handler: 'fail' });
    const ex = createExecutor(fail, options);
    await expect(
      ex.execute(req({ type: 'connection', message: 'down' }), execContext(fail)),
    ).resolves.toMatchObject({
      ok: false,
      error: { type: 'connection', message: 'down', retryable: true },
    });
    await expect(ex.execute(req(), execContext(fail))).resolves.toMatchObject({
      ok: false,
      error: { type: 'handler_error', retryable: false },
    });
    const throwing = new BuiltinExecutor('boom', {
      ...options,
      builtinHandlers: new Map([['boom', () => Promise.reject(new Error('kaput'))]]),
    });
    await expect(throwing.execute(req(), execContext(fail))).resolves.toMatchObject({
      ok: false,
      error: { type: 'handler_error', message: 'kaput' },
    });
  });

  it('flaky fails N times per task, then succeeds', async () => {
    const agent = agentDef({ name: 'flaky', handler: 'flaky' });
    const ex = createExecutor(agent, testExecutorOptions());
    const results = [];
    for (let i = 0; i < 3; i++)
      results.push(await ex.execute(req({ failTimes: 2 }), execContext(agent)));
    expect(results.map((r) => (r.ok ? 'ok' : `${r.error.type}:${r.error.retryable}`))).toEqual([
      'upstream_error:true',
      'upstream_error:true',
      'ok',
    ]);
  });

  it('ends at once on cancel even if the handler ignores the signal', async () => {
    const agent = agentDef({ name: 'deaf', handler: 'deaf' });
    const ex = new BuiltinExecutor('deaf', {
      ...options,
      builtinHandlers: new Map([['deaf', () => new Promise((r) => setTimeout(r, 2000))]]),
    });
    const c = new AbortController();
    const p = ex.execute(req(), execContext(agent, c.signal));
    c.abort(new ExecutionAborted('cancelled'));
    await expect(p).resolves.toMatchObject({ ok: false, error: { type: 'cancelled' } });
    const d = new AbortController();
    const q = ex.execute(req(), execContext(agent, d.signal));
    d.abort(new ExecutionAborted('drained'));
    await expect(q).resolves.toMatchObject({
      ok: false,
      error: { type: 'drained', retryable: true },
    });
  });
});

describe('createExecutor', () => {
  const options = testExecutorOptions();
  it('refuses definitions missing what their executor needs', () => {
    expect(() => createExecutor(agentDef({ name: 'c', executor: 'command' }), options)).toThrow(
      ExecutorConfigError,
    );
    expect(() => createExecutor(agentDef({ name: 'h', executor: 'http' }), options)).toThrow(
      /needs a `url`/,
    );
    expect(() =>
      createExecutor(agentDef({ name: 'h', executor: 'http', url: 'ftp://x' }), options),
    ).toThrow(/invalid url/);
    expect(() => createExecutor(agentDef({ name: 'b', executor: 'builtin' }), options)).toThrow(
      /needs a `handler`/,
    );
  });
  it('builds each kind', () => {
    expect(createExecutor(agentDef({ name: 'echo' }), options).kind).toBe('builtin');
    expect(
      createExecutor(agentDef({ name: 'c', executor: 'command', command: ['true'] }), options).kind,
    ).toBe('command');
    expect(
      createExecutor(agentDef({ name: 'h', executor: 'http', url: 'http://127.0.0.1:1/' }), options)
        .kind,
    ).toBe('http');
    expect(createExecutor(agentDef({ name: 'cl', executor: 'claude' }), options).kind).toBe(
      'claude',
    );
  });
});
