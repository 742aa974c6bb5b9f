import { discoveryFixture, type DiscoveryFixture } from '../discovery/discovery-fixture';
import { TaskStore } from '../../../src/queue/task-store.repository';
import { type QueueHarness, startQueue } from './queue-harness';

/**
 * The dispatch loop's agent slots live on the task (claim-slot-3.lua): the script that ends the
 * attempt gives the slot back, exactly once, whichever way the attempt ends.
 */
describe('agent slots held by task attempts (real Redis)', () => {
  let h: QueueHarness;
  let d: DiscoveryFixture;

  beforeEach(async () => {
    h = await startQueue({ QUEUE_RETRY_BASE_DELAY_MS: '0', QUEUE_RETRY_MAX_DELAY_MS: '0' });
    d = await discoveryFixture({}, h.prefix);
    await d.service.register({ id: 'ag', capabilities: ['x'], maxLoad: 2 });
  });
  afterEach(async () => {
    await h.close();
    await d.close();
  });

  const load = async () => (await d.service.get('ag')).load;

  /** Enqueues and starts `id` (the only READY task). */
  async function running(id: string): Promise<void> {
    await h.queue.enqueue({ id, capability: 'x' });
    const t = await h.queue.dequeue();
    expect(t?.id).toBe(id);
  }

  it('claims a slot and records the agent; completing gives it back once', async () => {
    await running('a');
    expect(await h.queue.lifecycle.claimSlot('a', 0, 'ag')).toEqual({
      kind: 'claimed',
      load: 1,
      maxLoad: 2,
    });
    expect((await h.queue.getTask('a')).agentId).toBe('ag');
    // a second claim for the same attempt is refused: one slot per attempt
    expect(await h.queue.lifecycle.claimSlot('a', 0, 'ag')).toEqual({ kind: 'stale' });
    expect(await load()).toBe(1);
    expect(await h.queue.complete('a', 0, 'ok', 'ag')).toBe(true);
    expect(await load()).toBe(0);
    // a duplicate reply changes nothing, the slot is not given back twice
    await d.service.tryReserve('ag');
    expect(await h.queue.complete('a', 0, 'ok', 'ag')).toBe(false);
    expect(await load()).toBe(1);
  });

  it('refuses a full agent and a task that is not running', async () => {
    await d.service.tryReserve('ag');
    await d.service.tryReserve('ag');
    await running('a');
    expect(await h.queue.lifecycle.claimSlot('a', 0, 'ag')).toEqual({ kind: 'full' });
    expect(await h.queue.lifecycle.claimSlot('a', 1, 'ag')).toEqual({ kind: 'stale' });
    expect(await h.queue.lifecycle.claimSlot('nope', 0, 'ag')).toEqual({ kind: 'stale' });
    expect(await load()).toBe(2);
  });

  it('gives the slot back on a retry, a loss, a deferral and a park', async () => {
    await running('a');
    await h.queue.lifecycle.claimSlot('a', 0, 'ag');
    await h.queue.fail('a', 0, { type: 'timeout', message: 'slow', retryable: true }, 'ag');
    expect(await load()).toBe(0);
    await h.queue.dequeue();
    await h.queue.lifecycle.claimSlot('a', 1, 'ag');
    await h.queue.fail('a', 1, { type: 'agent_lost', message: 'gone', retryable: true });
    expect(await load()).toBe(0);
    await h.queue.dequeue();
    await h.queue.lifecycle.claimSlot('a', 2, 'ag');
    expect(await h.queue.defer('a', 2, 'busy', 0)).toBe(true);
    expect(await load()).toBe(0);
    await h.queue.dequeue();
    await h.queue.lifecycle.claimSlot('a', 2, 'ag');
    expect(await h.queue.lifecycle.park('a', 2, 'nobody')).toBe(true);
    expect(await load()).toBe(0);
  });

  it('gives the slot back when a running task fails for good or is cancelled', async () => {
    await running('f');
    await h.queue.lifecycle.claimSlot('f', 0, 'ag');
    await h.queue.fail('f', 0, { type: 'invalid_input', message: 'no', retryable: false }, 'ag');
    expect((await h.queue.getTask('f')).status).toBe('FAILED');
    expect(await load()).toBe(0);
    await running('c');
    await h.queue.lifecycle.claimSlot('c', 0, 'ag');
    expect(await load()).toBe(1);
    await h.queue.cancel('c');
    expect(await load()).toBe(0);
  });

  it('gives the slot back without ending the attempt (release)', async () => {
    await running('a');
    await h.queue.lifecycle.claimSlot('a', 0, 'ag');
    expect(await h.queue.lifecycle.releaseSlot('a', 0, 'ag')).toBe(true);
    expect(await load()).toBe(0);
    expect(await h.queue.lifecycle.releaseSlot('a', 0, 'ag')).toBe(false);
    expect(await load()).toBe(0);
    // the attempt goes on and may claim again; completing gives that one back
    await h.queue.lifecycle.claimSlot('a', 0, 'ag');
    await h.queue.complete('a', 0, 'ok', 'ag');
    expect(await load()).toBe(0);
  });

  it('takes the slot in the start script when the runner names an agent; a re-delivery gives it back first', async () => {
    await h.queue.enqueue({ id: 'a', capability: 'x' });
    const [gen] = await h.get(TaskStore).fields('a', 'gen');
    const started = await h.queue.lifecycle.start('a', gen!, 'ag');
    expect(started?.slot).toEqual({ agentId: 'ag', load: 1, maxLoad: 2 });
    expect(started?.task.agentId).toBe('ag');
    expect(await load()).toBe(1);
    // the same job again (its control plane died): the restarted attempt holds one slot, not two
    const again = await h.queue.lifecycle.start('a', gen!, 'ag');
    expect(again?.redelivered).toBe(true);
    expect(again?.slot).toEqual({ agentId: 'ag', load: 1, maxLoad: 2 });
    expect(await load()).toBe(1);
    await h.queue.complete('a', 0, 'ok', 'ag');
    expect(await load()).toBe(0);
  });

  it('starts without a slot when the named agent is full (the dispatcher claims elsewhere)', async () => {
    await d.service.tryReserve('ag');
    await d.service.tryReserve('ag');
    await h.queue.enqueue({ id: 'a', capability: 'x' });
    const [gen] = await h.get(TaskStore).fields('a', 'gen');
    const started = await h.queue.lifecycle.start('a', gen!, 'ag');
    expect(started?.task.status).toBe('RUNNING');
    expect(started?.slot).toBeUndefined();
    expect(await load()).toBe(2);
  });
});
