import { AppException } from '../../../src/common/errors/app.exception';
import { TaskStatus } from '../../../src/queue/task.types';
import { eventually, type QueueHarness, startQueue } from './queue-harness';

/** Starts `id` (dequeues until it is the one RUNNING) and records the agent that runs it. */
async function run(h: QueueHarness, id: string, agent = 'agent-a'): Promise<void> {
  for (;;) {
    const t = await h.queue.dequeue();
    if (!t) throw new Error(`task ${id} was not READY`);
    await h.queue.lifecycle.assign(t.id, agent);
    if (t.id === id) return;
  }
}

async function refusal(p: Promise<unknown>): Promise<AppException> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AppException);
    return e as AppException;
  }
  throw new Error('expected a refusal');
}

describe('delegation trees (real Redis)', () => {
  let h: QueueHarness;

  beforeEach(async () => {
    h = await startQueue({ DELEGATION_MAX_DEPTH: '3', DELEGATION_MAX_CHILDREN: '3' });
  });
  afterEach(async () => {
    await h.close();
  });

  it('a child records parent, root and depth; the tree endpoint nests it', async () => {
    await h.queue.enqueue({ id: 'root', capability: 'plan' });
    await run(h, 'root');
    const { task: c1 } = await h.queue.enqueue({
      id: 'c1',
      capability: 'review',
      parentTaskId: 'root',
    });
    expect(c1).toMatchObject({ parentTaskId: 'root', rootTaskId: 'root', depth: 1 });
    await run(h, 'c1', 'agent-b');
    const { task: g1 } = await h.queue.enqueue({
      id: 'g1',
      capability: 'lint',
      parentTaskId: 'c1',
    });
    expect(g1).toMatchObject({ parentTaskId: 'c1', rootTaskId: 'root', depth: 2 });
    const tree = await h.queue.getTaskTree('root');
    expect(tree).toMatchObject({
      id: 'root',
      agentId: 'agent-a',
      status: TaskStatus.Running,
      children: [
        { id: 'c1', agentId: 'agent-b', children: [{ id: 'g1', depth: 2, children: [] }] },
      ],
    });
  });

  it('refuses depth, fan-out, cycles, unknown and finished parents with clear errors', async () => {
    await h.queue.enqueue({ id: 'r', capability: 'x' });
    await run(h, 'r');
    let parent = 'r';
    for (let d = 1; d <= 3; d++) {
      await h.queue.enqueue({ id: `d${d}`, capability: `y${d}`, parentTaskId: parent });
      await run(h, `d${d}`, `agent-${d}`);
      parent = `d${d}`;
    }
    const deep = await refusal(h.queue.enqueue({ capability: 'z', parentTaskId: 'd3' }));
    expect(deep.code).toBe('DELEGATION_LIMIT');
    expect(deep.message).toContain('depth 4 is over the limit of 3');

    for (let i = 0; i < 2; i++)
      await h.queue.enqueue({ capability: 'fan', payload: i, parentTaskId: 'r' });
    const wide = await refusal(
      h.queue.enqueue({ capability: 'fan', payload: 9, parentTaskId: 'r' }),
    );
    expect(wide.code).toBe('DELEGATION_LIMIT');
    expect(wide.message).toContain('already has 3 children');

    const unknown = await refusal(h.queue.enqueue({ capability: 'x', parentTaskId: 'nope' }));
    expect(unknown.status).toBe(404);
    await h.queue.complete('d3', 0, 'done');
    const finished = await refusal(h.queue.enqueue({ capability: 'x', parentTaskId: 'd3' }));
    expect(finished.status).toBe(409);
  });

  it('a chain holding the same agent for the same capability more than twice is a cycle', async () => {
    await h.close();
    h = await startQueue({ DELEGATION_MAX_DEPTH: '10' });
    await h.queue.enqueue({ id: 'a0', capability: 'self' });
    await run(h, 'a0', 'solo');
    await h.queue.enqueue({ id: 'a1', capability: 'self', parentTaskId: 'a0' });
    await run(h, 'a1', 'solo');
    await h.queue.enqueue({ id: 'a2', capability: 'self', parentTaskId: 'a1' });
    await run(h, 'a2', 'solo');
    const cycle = await refusal(h.queue.enqueue({ capability: 'self', parentTaskId: 'a2' }));
    expect(cycle.code).toBe('DELEGATION_LIMIT');
    expect(cycle.message).toContain("agent solo already handles 'self' 3 times");
  });

  it('the same delegation from a retried parent returns the earlier child (unless it failed)', async () => {
    await h.queue.enqueue({ id: 'p', capability: 'x' });
    await run(h, 'p');
    const first = await h.queue.enqueue({
      capability: 'sum',
      payload: { a: 1 },
      parentTaskId: 'p',
    });
    const again = await h.queue.enqueue({
      capability: 'sum',
      payload: { a: 1 },
      parentTaskId: 'p',
    });
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ created: false, task: { id: first.task.id } });
    await run(h, first.task.id);
    await h.queue.fail(first.task.id, 0, { type: 'validation', message: 'bad', retryable: false });
    const fresh = await h.queue.enqueue({
      capability: 'sum',
      payload: { a: 1 },
      parentTaskId: 'p',
    });
    expect(fresh.created).toBe(true);
    expect(fresh.task.id).not.toBe(first.task.id);
  });

  it('cancelling or failing a task cancels its unfinished descendants', async () => {
    await h.queue.enqueue({ id: 'top', capability: 'x' });
    await run(h, 'top');
    await h.queue.enqueue({ id: 'kid', capability: 'x', parentTaskId: 'top' });
    await run(h, 'kid');
    await h.queue.enqueue({ id: 'grandkid', capability: 'x', parentTaskId: 'kid' });
    const heard: string[] = [];
    h.queue.watcher.onCancel((id) => heard.push(id));
    await h.queue.cancel('top');
    expect((await h.queue.getTask('kid')).status).toBe(TaskStatus.Cancelled);
    expect(await h.queue.getTask('grandkid')).toMatchObject({
      status: 'CANCELLED',
      reason: 'parent_cancelled',
    });
    // The running ones are told to stop on every instance (the pub/sub cancel channel).
    await eventually(() => heard.length >= 2);
    expect(heard.sort()).toEqual(['kid', 'top']);

    await h.queue.enqueue({ id: 'top2', capability: 'x', retry: { maxRetries: 0 } });
    await run(h, 'top2');
    await h.queue.enqueue({ id: 'kid2', capability: 'x', parentTaskId: 'top2' });
    await h.queue.fail('top2', 0, { type: 'boom', message: 'x', retryable: false });
    expect(await h.queue.getTask('kid2')).toMatchObject({
      status: 'CANCELLED',
      reason: 'parent_failed',
    });
  });

  it('costs roll up to the parent, the root and the workflow; an exhausted budget refuses delegation', async () => {
    const { workflow, tasks } = await h.queue.submitWorkflow({
      budget: { usd: 1 },
      tasks: [{ ref: 'lead', id: 'lead', capability: 'x' }],
    });
    expect(workflow.budget).toEqual({ usd: 1 });
    await run(h, tasks[0].id);
    await h.queue.enqueue({ id: 'w1', capability: 'y', payload: 1, parentTaskId: 'lead' });
    await run(h, 'w1');
    await h.queue.complete('w1', 0, 'ok', 'agent-a', {
      cost: { usd: 0.4, inputTokens: 100, outputTokens: 50 },
    });
    expect((await h.queue.getTask('w1')).cost).toEqual({
      usd: 0.4,
      inputTokens: 100,
      outputTokens: 50,
      tokens: 150,
    });
    expect((await h.queue.getTask('lead')).treeCost).toMatchObject({ usd: 0.4, tokens: 150 });
    expect((await h.queue.getWorkflow(workflow.id)).workflow.cost).toMatchObject({ usd: 0.4 });

    await h.queue.enqueue({ id: 'w2', capability: 'y', payload: 2, parentTaskId: 'lead' });
    // What is left of the workflow's budget travels with the attempt (claude: --max-budget-usd).
    const w2 = await h.queue.dequeue();
    expect(w2).toMatchObject({ id: 'w2' });
    expect(w2!.budgetLeftUsd).toBeCloseTo(0.6, 6);
    // Over budget: the result is not accepted, the task fails for good.
    await h.queue.complete('w2', 0, 'ok', 'agent-a', { cost: { usd: 0.7 } });
    expect(await h.queue.getTask('w2')).toMatchObject({
      status: 'FAILED',
      error: { type: 'budget_exceeded', retryable: false },
    });
    const broke = await refusal(
      h.queue.enqueue({ capability: 'y', payload: 3, parentTaskId: 'lead' }),
    );
    expect(broke.code).toBe('BUDGET_EXCEEDED');
    expect(broke.status).toBe(402);
  });

  it('waitForTerminal wakes on another instance’s completion, without polling', async () => {
    const other = await startQueue({}, h.prefix);
    try {
      await h.queue.enqueue({ id: 'w', capability: 'x' });
      await run(h, 'w');
      const waiting = other.queue.waitForTerminal('w', 20_000);
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      await h.queue.complete('w', 0, { n: 1 });
      const done = await waiting;
      expect(done).toMatchObject({ status: 'COMPLETED', result: { n: 1 } });
      expect(Date.now() - t0).toBeLessThan(5000);
      // A short wait on an unfinished task returns its current state.
      await h.queue.enqueue({ id: 'slow', capability: 'x' });
      expect((await other.queue.waitForTerminal('slow', 50)).status).toBe('READY');
    } finally {
      await other.close();
    }
  });
});
