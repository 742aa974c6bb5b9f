import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { agentMessageSchema } from './agent-message.schema';
import { decodeMessage, encodeMessage } from './message-codec';

const base = { fromAgent: 'a', toAgent: 'b', messageType: 'task' as const, payload: { x: 1 } };

function appError(fn: () => unknown): AppException {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppException);
    return e as AppException;
  }
  throw new Error('expected an AppException');
}

describe('AgentMessage schema and codec', () => {
  it('fills id, timestamp, correlationId and the defaults', () => {
    const { message, body } = encodeMessage(base, 10_000);
    expect(message.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(message.correlationId).toBe(message.id);
    expect(message.priority).toBe(5);
    expect(message.attempt).toBe(0);
    expect(JSON.parse(body.toString())).toEqual(message);
  });

  it('keeps a given correlation id, id and timestamp', () => {
    const id = '6f1c1e5e-8a53-4d3c-9c55-1a1a0b0e6a11';
    const { message } = encodeMessage(
      { ...base, id, correlationId: 'c-1', timestamp: '2026-01-01T00:00:00.000Z' },
      10_000,
    );
    expect(message).toMatchObject({
      id,
      correlationId: 'c-1',
      timestamp: '2026-01-01T00:00:00.000Z',
    });
  });

  it.each([
    [{ priority: 11 }, 'priority'],
    [{ priority: -1 }, 'priority'],
    [{ priority: 1.5 }, 'priority'],
    [{ attempt: -1 }, 'attempt'],
    [{ messageType: 'gossip' }, 'messageType'],
    [{ fromAgent: '' }, 'fromAgent'],
    [{ id: 'not-a-uuid' }, 'id'],
    [{ timestamp: 'yesterday' }, 'timestamp'],
    [{ unknownField: 1 }, 'unknownField'],
  ])('rejects %j naming the field %s', (patch, field) => {
    const err = appError(() => encodeMessage({ ...base, ...patch } as typeof base, 10_000));
    expect(err.code).toBe(ErrorCode.ValidationFailed);
    expect(err.status).toBe(400);
    const fields = (err.details as { fields: { field: string }[] }).fields.map((f) => f.field);
    expect(fields).toContain(field);
  });

  it('rejects a payload that is not JSON-serialisable', () => {
    const err = appError(() => encodeMessage({ ...base, payload: { n: BigInt(1) } }, 10_000));
    expect(err.code).toBe(ErrorCode.ValidationFailed);
  });

  it('refuses a message above the size limit with a 413 that names the limit', () => {
    const err = appError(() => encodeMessage({ ...base, payload: 'x'.repeat(2000) }, 1024));
    expect(err.code).toBe(ErrorCode.PayloadTooLarge);
    expect(err.status).toBe(413);
    expect(err.message).toMatch(/1024 bytes \(BUS_MAX_MESSAGE_BYTES\)/);
    expect(err.details).toMatchObject({ limit: 1024 });
  });

  it('decodes what it encodes, and validates with the same schema', () => {
    const { message, body } = encodeMessage(base, 10_000);
    expect(decodeMessage(body, 10_000)).toEqual({ ok: true, message });
    expect(agentMessageSchema.parse(JSON.parse(body.toString()))).toEqual(message);
  });

  it('reports why a received body is refused, without throwing', () => {
    expect(decodeMessage(Buffer.from('{oops'), 100)).toMatchObject({ ok: false });
    const bad = decodeMessage(Buffer.from(JSON.stringify({ ...base, priority: 99 })), 10_000);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.reason).toMatch(/priority/);
    const big = decodeMessage(Buffer.alloc(200, 32), 100);
    expect(big.ok).toBe(false);
    if (!big.ok) expect(big.reason).toMatch(/limit is 100/);
  });
});
