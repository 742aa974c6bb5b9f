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
    expect(w.deliver(response('c1'))).toBe('delivered');
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
    expect(w.deliver(response('e1'))).toBe('no_waiter');
    w.deliver(response('e2'));
    w.deliver(response('e3')); // evicts e1
    await expect(w.wait('e3', 10)).resolves.toMatchObject({ correlationId: 'e3' });
    const late = w.wait('e1', 10);
    jest.advanceTimersByTime(10);
    await expect(late).rejects.toBeInstanceOf(BusTimeoutError);
  });

  it('drops a reply from another agent than the one asked, and keeps waiting for the real one', async () => {
    const w = new ResponseWaiters();
    const p = w.wait('c3', 1000, { fromAgent: 'b', attempt: 2 });
    const forged = { ...response('c3'), fromAgent: 'mallory', attempt: 2 };
    expect(w.deliver(forged)).toBe('wrong_sender');
    expect(w.pending).toBe(1);
    const stale = { ...response('c3'), attempt: 1 };
    expect(w.deliver(stale)).toBe('wrong_attempt');
    expect(w.pending).toBe(1);
    const real = { ...response('c3'), attempt: 2, payload: 'real' };
    expect(w.deliver(real)).toBe('delivered');
    await expect(p).resolves.toMatchObject({ fromAgent: 'b', payload: 'real' });
    expect(w.pending).toBe(0);
  });

  it('does not hand an early reply from the wrong agent to a waiter that expects another', async () => {
    const w = new ResponseWaiters();
    w.deliver({ ...response('c4'), fromAgent: 'mallory' });
    const p = w.wait('c4', 10, { fromAgent: 'b', attempt: 0 });
    jest.advanceTimersByTime(10);
    await expect(p).rejects.toBeInstanceOf(BusTimeoutError);
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
