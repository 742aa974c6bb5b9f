import type { AgentMessage } from './agent-message.schema';
import { BusTimeoutError } from './bus-timeout.error';
import { ResponseWaiters } from './response-waiters';

const response = (correlationId: string): AgentMessage => ({
  id: '6f1c1e5e-8a53-4d3c-9c55-1a1a0b0e6a11',
  fromAgent: 'b',
  toAgent: 'a',
  messageType: 'response',
  payload: 1,
  correlationId,
  timestamp: new Date().toISOString(),
  priority: 5,
  attempt: 0,
});

describe('ResponseWaiters', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('resolves the waiter of a correlation id', async () => {
    const w = new ResponseWaiters();
    const p = w.wait('c1', 1000);
    expect(w.deliver(response('c1'))).toBe(true);
    await expect(p).resolves.toMatchObject({ correlationId: 'c1' });
    expect(w.pending).toBe(0);
  });

  it('rejects with a TimeoutError after the timeout', async () => {
    const w = new ResponseWaiters();
    const p = w.wait('c2', 500);
    jest.advanceTimersByTime(499);
    expect(w.pending).toBe(1);
    jest.advanceTimersByTime(1);
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusTimeoutError);
    expect((err as Error).name).toBe('TimeoutError');
    expect((err as BusTimeoutError).correlationId).toBe('c2');
    expect(w.pending).toBe(0);
  });

  it('keeps an early response for a later waiter, bounded in count', async () => {
    const w = new ResponseWaiters(2, 60_000);
    expect(w.deliver(response('e1'))).toBe(false);
    w.deliver(response('e2'));
    w.deliver(response('e3')); // evicts e1
    await expect(w.wait('e3', 10)).resolves.toMatchObject({ correlationId: 'e3' });
    const late = w.wait('e1', 10);
    jest.advanceTimersByTime(10);
    await expect(late).rejects.toBeInstanceOf(BusTimeoutError);
  });

  it('rejectAll rejects every waiter', async () => {
    const w = new ResponseWaiters();
    const a = w.wait('a', 1000);
    const b = w.wait('b', 1000);
    w.rejectAll(new Error('closed'));
    await expect(a).rejects.toThrow('closed');
    await expect(b).rejects.toThrow('closed');
  });
});
