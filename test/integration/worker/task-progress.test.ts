import { delimiter, resolve } from 'node:path';
import { busOptions } from '../../../src/bus/bus-options';
import { MemoryMessageBus } from '../../../src/bus/memory.transport';
import { TASK_PROGRESS_DESTINATION } from '../../../src/bus/task-progress.schema';
import { ConfigService } from '../../../src/config/config.service';
import { loadConfig } from '../../../src/config/load-config';
import { EventsService } from '../../../src/events/events.service';
import type { SwitchyardEvent } from '../../../src/events/switchyard-event.type';
import { TaskProgressConsumer } from '../../../src/orchestrator/task-progress.consumer';
import { TaskProgressStore } from '../../../src/orchestrator/task-progress.store';
import { RedisService } from '../../../src/redis/redis.service';
import { AgentRuntime } from '../../../src/worker/agent-runtime';
import { TaskProgressPublisher } from '../../../src/worker/task-progress.publisher';
import { deletePrefix } from '../../support/redis-cleanup';
import { uniquePrefix } from '../../support/test-app';
import { agentDef, testExecutorOptions, waitFor } from '../../support/worker-fixtures';

const FAKE_DIR = resolve(__dirname, '../../fixtures/fake-claude');

describe('task progress: claude stream → runtime → bus → control-plane store and live events', () => {
  const prefix = uniquePrefix('progress');
  let redis: RedisService;
  let bus: MemoryMessageBus;
  let store: TaskProgressStore;
  let consumer: TaskProgressConsumer;
  const seen: SwitchyardEvent[] = [];

  beforeAll(async () => {
    const config = new ConfigService(
      loadConfig({ REDIS_URL: process.env.REDIS_URL, REDIS_KEY_PREFIX: prefix }),
    );
    redis = new RedisService(config);
    await redis.onModuleInit();
    bus = new MemoryMessageBus(
      busOptions({ instanceId: 'progress-test', shutdownTimeoutMs: 1000 }),
    );
    await bus.connect();
    const events = new EventsService();
    events.subscribe((e) => {
      if (e.type === 'task.progress') seen.push(e);
    });
    store = new TaskProgressStore(redis);
    consumer = new TaskProgressConsumer(bus, store, events);
    await consumer.onApplicationBootstrap();
  });

  afterAll(async () => {
    await consumer.onApplicationShutdown();
    await bus.close();
    await redis.onApplicationShutdown();
    await deletePrefix(prefix);
  });

  it('stores every step of a 50-event run in order and emits them as task.progress', async () => {
    const publisher = new TaskProgressPublisher({
      send: (m) =>
        bus.sendTask({
          fromAgent: m.agentId,
          toAgent: TASK_PROGRESS_DESTINATION,
          messageType: 'control',
          taskId: m.taskId,
          attempt: m.attempt,
          payload: m,
        }),
    });
    const runtime = new AgentRuntime([agentDef({ name: 'cc', executor: 'claude' })], {
      executorOptions: testExecutorOptions({
        env: {
          ...process.env,
          PATH: `${FAKE_DIR}${delimiter}${process.env.PATH ?? ''}`,
          FAKE_CLAUDE_EVENTS: '50',
        },
        passEnv: ['FAKE_CLAUDE_*'],
      }),
      listener: {
        progress: (info, step) =>
          publisher.add(`${info.agent}@w1`, info.taskId, info.attempt, step),
      },
    });
    const r = await runtime.run('cc', {
      taskId: 'tp-1',
      attempt: 0,
      capability: 'cc',
      payload: {},
    });
    expect(r.ok).toBe(true);
    await publisher.flush();
    expect(await waitFor(() => seen.filter((e) => e.taskId === 'tp-1').length === 50, 5000)).toBe(
      true,
    );
    const steps = await store.list('tp-1');
    expect(steps).toHaveLength(50);
    expect(steps.map((s) => s.seq)).toEqual([...Array(50).keys()]);
    expect(steps[0]).toMatchObject({ attempt: 0, kind: 'init' });
    expect(steps[49]).toMatchObject({ kind: 'result' });
    const events = seen.filter((e) => e.taskId === 'tp-1');
    expect(events.map((e) => e.data?.seq)).toEqual([...Array(50).keys()]);
    expect(events[1]).toMatchObject({ agentId: 'cc@w1', data: { kind: 'tool_call', attempt: 0 } });
    expect(await store.list('tp-1', { attempt: 0, seq: 47 })).toHaveLength(2);
    expect(publisher.stats).toMatchObject({ steps: 50, dropped: 0, failed: 0 });
  });

  it('keeps only the newest 200 steps within 256 KiB, and stores a redelivered batch once', async () => {
    const at = new Date().toISOString();
    const big = 'y'.repeat(600);
    const batch = (from: number) =>
      Array.from({ length: 50 }, (_, i) => ({
        seq: from + i,
        at,
        kind: 'text',
        summary: big,
        data: { blob: 'z'.repeat(1000) },
      }));
    for (let from = 0; from < 300; from += 50) {
      await store.append('tp-2', 1, batch(from), 60);
    }
    await store.append('tp-2', 1, batch(250), 60); // the same batch again
    const steps = await store.list('tp-2');
    expect(steps).toHaveLength(200);
    expect(steps[0].seq).toBe(100);
    expect(steps[199].seq).toBe(299);
    const bytes = steps.reduce((n, s) => n + Buffer.byteLength(JSON.stringify(s)), 0);
    expect(bytes).toBeLessThanOrEqual(256 * 1024);
  });

  it('ignores malformed progress messages', async () => {
    await consumer.handle({
      id: '00000000-0000-4000-8000-000000000000',
      fromAgent: 'x',
      toAgent: TASK_PROGRESS_DESTINATION,
      messageType: 'control',
      payload: { kind: 'task.progress', taskId: 't', attempt: 0, agentId: 'a', steps: [] },
      correlationId: 'c',
      timestamp: new Date().toISOString(),
      priority: 5,
      attempt: 0,
    });
    expect(consumer.stats.rejected).toBe(1);
  });
});
