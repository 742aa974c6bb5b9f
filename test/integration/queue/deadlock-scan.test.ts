import { TaskStore } from '../../../src/queue/task-store.repository';
import { type QueueHarness, startQueue } from './queue-harness';

jest.setTimeout(60_000);

/**
 * The deadlock scan reads the wait-for graph in bounded batches: with 5,000 BLOCKED tasks on the
 * suspects' paths, no edge-reading script call gets more than a batch of ids (the old
 * single-script scan walked all 5,000 in one call and held Redis for ~76 ms). How long a scan
 * takes is measured by `npm run bench -- queue` (deadlock_detect_ms), not asserted here: a
 * wall-clock threshold fails on a busy machine whatever the code does.
 */
describe('deadlock scan in bounded batches (real Redis)', () => {
  let h: QueueHarness;

  beforeAll(async () => {
    h = await startQueue();
  });
  afterAll(async () => {
    await h.close();
  });

  it('walks 5,000 BLOCKED tasks a bounded batch per script call and still finds the cycle', async () => {
    const n = 5000;
    // c0 waits for c1, c1 for c2, ... : each later task is a suspect (someone already waited for it).
    const chain = Array.from({ length: n }, (_, i) => ({
      id: `c${i}`,
      capability: 'x',
      dependsOn: [i === n - 1 ? 'c0' : `c${i + 1}`],
    }));
    await h.queue.enqueueMany(chain);
    // Spied through: every call still runs the real script on the real Redis.
    const edges = jest.spyOn(h.get(TaskStore), 'blockedEdges');
    const { cycles, blocked } = await h.queue.detectDeadlocks();
    expect(blocked).toBe(n);
    expect(cycles).toHaveLength(1);
    expect(cycles[0].taskIds).toHaveLength(n);
    const idsPerCall = edges.mock.calls.map(([ids]) => ids.length);
    expect(Math.max(...idsPerCall)).toBeLessThanOrEqual(200);
    // The whole chain was read, a batch at a time.
    expect(idsPerCall.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(n);
    expect(idsPerCall.length).toBeGreaterThanOrEqual(n / 200);
    edges.mockRestore();
    await h.queue.resolveDeadlocks();
    expect((await h.queue.detectDeadlocks()).cycles).toHaveLength(0);
  });
});
