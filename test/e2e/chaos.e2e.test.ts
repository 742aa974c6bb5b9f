import { runChaos } from '../../bench/chaos/chaos';
import { ensureBuilt } from '../support/processes';

// The short chaos run: a private Redis (AOF) and RabbitMQ node, 2 control planes, 3 workers,
// a few hundred tasks, every fault of the schedule once (worker SIGKILLs, a control-plane SIGKILL,
// a RabbitMQ restart, a Redis restart). `npm run chaos` is the long version.
jest.setTimeout(420_000);

describe('chaos (e2e, private Redis and RabbitMQ, real processes)', () => {
  it('loses no accepted task, completes none twice, leaves no orphan after a worker kill', async () => {
    await ensureBuilt();
    const lines: string[] = [];
    const summary = await runChaos({
      tasks: 240,
      rate: 8,
      killEverySeconds: 10,
      settleSeconds: 150,
      failPct: 10,
      builtinPct: 20,
      log: (l) => lines.push(l),
    });
    const context = `${JSON.stringify(summary)}\n${lines.join('\n')}`;
    expect([summary.accepted, context]).toEqual([240, context]);
    expect(summary.worker_kills).toBeGreaterThanOrEqual(2);
    expect([summary.lost, context]).toEqual([0, context]);
    expect([summary.completed_twice, context]).toEqual([0, context]);
    expect([summary.orphans_after_kill, context]).toEqual([0, context]);
  });
});
