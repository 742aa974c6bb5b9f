import { Counter } from 'prom-client';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { busOptions } from './bus-options';
import { MemoryMessageBus } from './memory.transport';

const task = { fromAgent: 'a', toAgent: 'b', messageType: 'task' as const, payload: 1 };

describe('MemoryMessageBus', () => {
  let bus: MemoryMessageBus;
  beforeEach(() => {
    bus = new MemoryMessageBus(busOptions({ instanceId: 'unit', shutdownTimeoutMs: 1000 }));
  });
  afterEach(() => bus.close());

  it('goes connecting → connected → closed', async () => {
    expect(bus.state).toBe('connecting');
    await bus.connect();
    expect(bus.state).toBe('connected');
    await bus.close();
    expect(bus.state).toBe('closed');
    await expect(bus.connect()).rejects.toBeInstanceOf(AppException);
  });

  it('keeps tasks for an agent nobody consumes yet', async () => {
    await bus.connect();
    await bus.sendTask(task);
    await bus.sendTask(task);
    expect(await bus.inspectQueue(bus.topology.agentQueue('b'))).toEqual({
      messageCount: 2,
      consumerCount: 0,
    });
  });

  it('uses the namespace in every queue name', () => {
    const ns = new MemoryMessageBus(busOptions({ namespace: 'x.' }));
    expect(ns.topology.agentQueue('b')).toBe('x.agent.b.tasks');
    expect(ns.topology.orchestratorQueue).toBe('x.orchestrator.priority');
    expect(ns.replyTo).toBe(`${ns.options.instanceId}.response`);
  });

  it('refuses subscriptions and publishes after close with a 503', async () => {
    await bus.connect();
    await bus.close();
    await expect(bus.subscribe('b', async () => undefined)).rejects.toMatchObject({
      code: ErrorCode.DependencyUnavailable,
    });
    await expect(bus.broadcastEvent({ ...task, messageType: 'event' })).rejects.toMatchObject({
      code: ErrorCode.DependencyUnavailable,
    });
  });

  it('rejects pending request() calls on close', async () => {
    await bus.connect();
    const p = bus.request(task, 10_000);
    await bus.close();
    await expect(p).rejects.toMatchObject({ code: ErrorCode.DependencyUnavailable });
  });

  it('counts messages in and out (message_bus_messages_total)', async () => {
    const counter = (name: string, labelNames: string[]) =>
      new Counter({ name, help: name, labelNames, registers: [] });
    const busMessagesTotal = counter('bus_test_total', ['message_type', 'direction']);
    const counted = new MemoryMessageBus(
      busOptions({
        metrics: { busMessagesTotal, duplicateRepliesTotal: counter('dup_test_total', ['reason']) },
      }),
    );
    await counted.connect();
    const done = new Promise<void>((resolve) => {
      void counted.subscribe('b', async () => resolve());
    });
    await counted.sendTask(task);
    await done;
    const values = (await busMessagesTotal.get()).values.map((v) => [v.labels, v.value]);
    expect(values).toEqual(
      expect.arrayContaining([
        [{ message_type: 'task', direction: 'out' }, 1],
        [{ message_type: 'task', direction: 'in' }, 1],
      ]),
    );
    await counted.close();
  });
});
