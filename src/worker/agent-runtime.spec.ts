import { agentDef, testExecutorOptions } from '../../test/support/worker-fixtures';
import { AgentRuntime, type RuntimeListener } from './agent-runtime';
import type { BuiltinHandler } from './builtin-handlers/builtin-handler.type';
import { ExecutionFailure } from './executors/execution-error';
import type { ExecutionRequest } from './executors/executor.types';

/** A handler the test releases by hand; counts how many times it really started. */
function gate() {
  const started: string[] = [];
  const waiting = new Map<string, (v: unknown) => void>();
  const handler: BuiltinHandler = (request, ctx) =>
    new Promise((resolve, reject) => {
      const key = `${request.taskId}:${request.attempt}`;
      started.push(key);
      waiting.set(key, resolve);
      ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
  return {
    handler,
    started,
    release: (key: string, value: unknown = { done: key }) => waiting.get(key)?.(value),
  };
}

/** A request as the bus delivers it: the same message (delivery id) for the same task+attempt. */
const req = (
  taskId: string,
  attempt = 0,
  payload: unknown = {},
  deliveryId = `msg-${taskId}-${attempt}`,
): ExecutionRequest => ({
  taskId,
  attempt,
  deliveryId,
  capability: 'work',
  payload,
});

const tick = () => new Promise((r) => setImmediate(r));

function runtimeWith(
  handler: BuiltinHandler,
  maxConcurrency: number,
  extra: Partial<ConstructorParameters<typeof AgentRuntime>[1]> = {},
) {
  return new AgentRuntime(
    [
      agentDef({ name: 'worker-a', handler: 'gate', maxConcurrency }),
      agentDef({ name: 'echo', handler: 'echo', maxConcurrency: 2 }),
      agentDef({ name: 'sleeper', handler: 'sleep', maxConcurrency: 1 }),
      agentDef({ name: 'delegator', handler: 'delegate' }),
    ],
    { executorOptions: testExecutorOptions({ extraHandlers: { gate: handler } }), ...extra },
  );
}

describe('AgentRuntime', () => {
  it('runs a task on the named agent', async () => {
    const rt = runtimeWith(gate().handler, 1);
    await expect(rt.run('echo', req('t1', 0, { hi: 1 }))).resolves.toMatchObject({
      ok: true,
      output: { hi: 1 },
    });
    expect(rt.load('echo')).toBe(0);
  });

  it('fails with not_found for an agent it does not host', async () => {
    const rt = runtimeWith(gate().handler, 1);
    await expect(rt.run('ghost', req('t1'))).resolves.toMatchObject({
      ok: false,
      error: { type: 'not_found' },
    });
  });

  it('lets a task of a tree it already runs borrow the ancestor slot (no pool deadlock)', async () => {
    const g = gate();
    const rt = runtimeWith(g.handler, 1);
    const parent = rt.run('worker-a', { ...req('root'), rootTaskId: 'root' });
    await tick();
    const child = rt.run('worker-a', { ...req('child'), rootTaskId: 'root' });
    const stranger = rt.run('worker-a', { ...req('other'), rootTaskId: 'other' });
    await tick();
    // The child runs beside its waiting ancestor; a task of another tree waits for the slot.
    expect(g.started).toEqual(['root:0', 'child:0']);
    expect(rt.load('worker-a')).toBe(1);
    expect(rt.executions().find((e) => e.taskId === 'child')?.borrowed).toBe(true);
    g.release('child:0');
    await expect(child).resolves.toMatchObject({ ok: true });
    expect(rt.load('worker-a')).toBe(1);
    g.release('root:0');
    await parent;
    await tick();
    expect(g.started).toEqual(['root:0', 'child:0', 'other:0']);
    g.release('other:0');
    await expect(stranger).resolves.toMatchObject({ ok: true });
    expect(rt.load('worker-a')).toBe(0);
  });

  it('gives executors ctx.switchyard when the task came with a credential', async () => {
    let seen: unknown;
    const rt = new AgentRuntime([agentDef({ name: 'spy', handler: 'spy' })], {
      executorOptions: testExecutorOptions({
        extraHandlers: {
          spy: (_r, ctx) => {
            seen = (ctx as { switchyard?: unknown }).switchyard;
            return Promise.resolve(null);
          },
        },
      }),
      switchyardUrl: () => 'http://cp:3000',
    });
    await rt.run('spy', { ...req('t1'), credential: 'syt1.x.y' });
    expect(seen).toEqual({ url: 'http://cp:3000', token: 'syt1.x.y' });
    await rt.run('spy', req('t2'));
    expect(seen).toBeUndefined();
  });

  it('enforces maxConcurrency: extra requests wait for a slot, in order', async () => {
    const g = gate();
    const loads: number[] = [];
    const listener: RuntimeListener = {
      loadChanged: (agent, load) => agent === 'worker-a' && loads.push(load),
    };
    const rt = runtimeWith(g.handler, 2, { listener });
    const p1 = rt.run('worker-a', req('a'));
    const p2 = rt.run('worker-a', req('b'));
    const p3 = rt.run('worker-a', req('c'));
    await tick();
    expect(g.started).toEqual(['a:0', 'b:0']);
    expect(rt.load('worker-a')).toBe(2);
    expect(rt.executions().map((e) => [e.taskId, e.state])).toEqual([
      ['a', 'running'],
      ['b', 'running'],
      ['c', 'waiting'],
    ]);
    g.release('a:0');
    await expect(p1).resolves.toMatchObject({ ok: true, output: { done: 'a:0' } });
    await tick();
    expect(g.started).toEqual(['a:0', 'b:0', 'c:0']);
    expect(rt.load('worker-a')).toBe(2);
    g.release('b:0');
    g.release('c:0');
    await Promise.all([p2, p3]);
    expect(rt.load('worker-a')).toBe(0);
    expect(Math.max(...loads)).toBe(2);
    expect(loads[loads.length - 1]).toBe(0);
  });

  it("whenBusy: 'reject' answers a retryable agent_busy at the limit", async () => {
    const g = gate();
    const rt = runtimeWith(g.handler, 1, { whenBusy: 'reject' });
    const p1 = rt.run('worker-a', req('a'));
    await expect(rt.run('worker-a', req('b'))).resolves.toMatchObject({
      ok: false,
      error: { type: 'agent_busy', retryable: true },
    });
    g.release('a:0');
    await p1;
  });

  it('a redelivered task+attempt joins the running execution instead of starting again', async () => {
    const g = gate();
    const joined: string[] = [];
    const rt = runtimeWith(g.handler, 3, {
      listener: { joined: (i) => joined.push(`${i.taskId}:${i.attempt}`) },
    });
    const first = rt.run('worker-a', req('dup', 1));
    await tick();
    const second = rt.run('worker-a', req('dup', 1));
    expect(second).toBe(first);
    expect(joined).toEqual(['dup:1']);
    // Another attempt of the same task is a different execution.
    const other = rt.run('worker-a', req('dup', 2));
    await tick();
    expect(g.started).toEqual(['dup:1', 'dup:2']);
    expect(rt.load('worker-a')).toBe(2);
    g.release('dup:1', 'one');
    g.release('dup:2', 'two');
    await expect(second).resolves.toMatchObject({ ok: true, output: 'one' });
    await expect(other).resolves.toMatchObject({ ok: true, output: 'two' });
    // Once finished, a redelivery is answered from the stored result: it never runs again.
    await expect(rt.run('worker-a', req('dup', 1))).resolves.toMatchObject({
      ok: true,
      output: 'one',
    });
    expect(g.started).toEqual(['dup:1', 'dup:2']);
  });

  it('answers a redelivery of a finished attempt from its record (success and failure), never re-running it', async () => {
    const g = gate();
    const replayed: string[] = [];
    const rt = runtimeWith(g.handler, 3, {
      listener: { replayed: (i, r) => replayed.push(`${i.taskId}:${i.attempt}:${r.ok}`) },
    });
    const ok = rt.run('worker-a', req('t', 0));
    const bad = rt.run('worker-a', req('u', 0));
    await tick();
    g.release('t:0', { answer: 42 });
    await ok;
    rt.cancel('u');
    await expect(bad).resolves.toMatchObject({ ok: false, error: { type: 'cancelled' } });

    await expect(rt.run('worker-a', req('t', 0))).resolves.toEqual(await ok);
    await expect(rt.run('worker-a', req('u', 0))).resolves.toEqual(await bad);
    expect(replayed).toEqual(['t:0:true', 'u:0:false']);
    expect(g.started).toEqual(['t:0', 'u:0']);
    expect(rt.finishedResult('t', 0)).toEqual(await ok);
    // A new attempt of the same task (the queue's retry) is a new execution.
    const retry = rt.run('worker-a', req('u', 1));
    await tick();
    expect(g.started).toEqual(['t:0', 'u:0', 'u:1']);
    g.release('u:1');
    await retry;
  });

  it('runs a new dispatch of a finished attempt (another message, e.g. a manual retry of a FAILED task)', async () => {
    const g = gate();
    const rt = runtimeWith(g.handler, 2);
    const first = rt.run('worker-a', req('m', 0));
    await tick();
    g.release('m:0', 'one');
    await first;
    // Same task and attempt, another message: real work again.
    const retried = rt.run('worker-a', req('m', 0, {}, 'msg-retry'));
    await tick();
    expect(g.started).toEqual(['m:0', 'm:0']);
    g.release('m:0', 'two');
    await expect(retried).resolves.toMatchObject({ ok: true, output: 'two' });
    // Without a delivery id (an in-process caller) nothing is answered from the record either.
    const inProcess = rt.run('worker-a', { ...req('m', 0), deliveryId: undefined });
    await tick();
    expect(g.started).toHaveLength(3);
    g.release('m:0');
    await inProcess;
  });

  it('keeps at most maxEntries finished attempts (oldest evicted first) and forgets them after ttlMs', async () => {
    let now = 1_000_000;
    const spy = jest.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      const rt = runtimeWith(gate().handler, 2, { finishedMemory: { maxEntries: 3, ttlMs: 1000 } });
      for (const id of ['a', 'b', 'c', 'd']) await rt.run('echo', req(id, 0, { id }));
      expect(rt.finishedCount).toBe(3);
      expect(rt.finishedResult('a', 0)).toBeUndefined();
      expect(rt.finishedResult('d', 0)).toMatchObject({ ok: true, output: { id: 'd' } });
      now += 1000;
      expect(rt.finishedResult('d', 0)).toBeUndefined();
      // Expired entries are dropped as new ones come in: memory stays bounded by time too.
      await rt.run('echo', req('e', 0));
      expect(rt.finishedCount).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('does not remember a drained (handed-back) attempt: it must run when it comes back', async () => {
    const g = gate();
    const rt = runtimeWith(g.handler, 1);
    const running = rt.run('worker-a', req('h', 0));
    await tick();
    await rt.drain(10);
    await expect(running).resolves.toMatchObject({ ok: false, error: { type: 'drained' } });
    expect(rt.finishedResult('h', 0)).toBeUndefined();
    expect(rt.finishedCount).toBe(0);
  });

  it('cancel aborts a running execution and a waiting one', async () => {
    const g = gate();
    const rt = runtimeWith(g.handler, 1);
    const running = rt.run('worker-a', req('x'));
    const waiting = rt.run('worker-a', req('y'));
    await tick();
    expect(rt.isRunning('x')).toBe(true);
    expect(rt.cancel('y')).toBe(1);
    await expect(waiting).resolves.toMatchObject({
      ok: false,
      error: { type: 'cancelled', retryable: false },
    });
    expect(rt.cancel('x')).toBe(1);
    await expect(running).resolves.toMatchObject({ ok: false, error: { type: 'cancelled' } });
    expect(g.started).toEqual(['x:0']);
    expect(rt.isRunning('x')).toBe(false);
    expect(rt.load('worker-a')).toBe(0);
    expect(rt.cancel('x')).toBe(0);
  });

  it('drain lets finishing tasks finish, hands back the rest and refuses new work', async () => {
    const g = gate();
    const rt = runtimeWith(g.handler, 2);
    const quick = rt.run('worker-a', req('quick'));
    const stuck = rt.run('worker-a', req('stuck'));
    const queued = rt.run('worker-a', req('queued'));
    await tick();
    setTimeout(() => g.release('quick:0'), 20);
    const report = await rt.drain(200);
    expect(report.finished).toEqual(['quick:0']);
    expect(report.handedBack).toEqual([
      { agent: 'worker-a', taskId: 'stuck', attempt: 0 },
      { agent: 'worker-a', taskId: 'queued', attempt: 0 },
    ]);
    await expect(quick).resolves.toMatchObject({ ok: true });
    await expect(stuck).resolves.toMatchObject({
      ok: false,
      error: { type: 'drained', retryable: true },
    });
    await expect(queued).resolves.toMatchObject({
      ok: false,
      error: { type: 'drained', retryable: true },
    });
    expect(g.started).toEqual(['quick:0', 'stuck:0']);
    expect(rt.draining).toBe(true);
    await expect(rt.run('echo', req('late'))).resolves.toMatchObject({
      ok: false,
      error: { type: 'drained' },
    });
  });

  it('drain with nothing in flight resolves at once', async () => {
    const rt = runtimeWith(gate().handler, 1);
    await expect(rt.drain(10_000)).resolves.toEqual({ finished: [], handedBack: [] });
  });

  it('times out a builtin handler with a retryable timeout', async () => {
    const rt = runtimeWith(gate().handler, 1);
    await expect(
      rt.run('sleeper', { ...req('s'), payload: { ms: 5000 }, timeoutMs: 50 }),
    ).resolves.toMatchObject({
      ok: false,
      error: { type: 'timeout', retryable: true },
    });
  });

  it('delegation without a configured delegate fails clearly', async () => {
    const rt = runtimeWith(gate().handler, 1);
    const r = await rt.run('delegator', req('d', 0, { capability: 'echo', payload: { x: 1 } }));
    expect(r).toMatchObject({ ok: false, error: { type: 'validation', retryable: false } });
    if (!r.ok) expect(r.error.message).toMatch(/no delegation configured/);
  });

  it('delegation: agent A submits a child task for agent B and awaits its result', async () => {
    const parents: unknown[] = [];
    const rt: AgentRuntime = runtimeWith(gate().handler, 1, {
      // In-process stand-in for the control plane: run the child on the agent with that capability.
      delegate: async (parent, capability, payload) => {
        parents.push(parent);
        const r = await rt.run(capability, {
          taskId: `${parent.taskId}.child`,
          attempt: 0,
          capability,
          payload,
        });
        if (!r.ok) throw new ExecutionFailure('delegation_failed', r.error.message, r.error);
        return r.output;
      },
    });
    await expect(
      rt.run('delegator', req('d', 0, { capability: 'echo', payload: { x: 1 } })),
    ).resolves.toMatchObject({
      ok: true,
      output: { capability: 'echo', result: { x: 1 } },
    });
    expect(parents).toEqual([{ agent: 'delegator', taskId: 'd', attempt: 0 }]);
    await expect(rt.run('delegator', req('e', 0, { capability: 'ghost' }))).resolves.toMatchObject({
      ok: false,
      error: { type: 'delegation_failed' },
    });
  });

  it('refuses two agents with the same name', () => {
    expect(
      () =>
        new AgentRuntime(
          [agentDef({ name: 'x', handler: 'echo' }), agentDef({ name: 'x', handler: 'echo' })],
          {
            executorOptions: testExecutorOptions(),
          },
        ),
    ).toThrow(/defined twice/);
  });
});
