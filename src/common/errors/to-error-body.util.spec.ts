import { NotFoundException } from '@nestjs/common';
import { z } from 'zod';
import { AppException } from './app.exception';
import { ErrorCode } from './error-code.enum';
import { toMappedError } from './to-error-body.util';

describe('toMappedError', () => {
  it('keeps the code and details of an AppException', () => {
    const m = toMappedError(AppException.notFound('agent', 'x'));
    expect(m).toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
      details: { agent: 'x' },
      unexpected: false,
    });
  });

  it('lists each bad field of a ZodError, unknown fields included', () => {
    const r = z.strictObject({ a: z.number(), b: z.string() }).safeParse({ a: 'x', c: 1 });
    const m = toMappedError(r.error);
    expect(m.status).toBe(400);
    const fields = (m.details as { fields: { field: string }[] }).fields.map((f) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['a', 'b', 'c']));
  });

  it('maps Nest HTTP exceptions by status', () => {
    expect(toMappedError(new NotFoundException('nope'))).toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
    });
  });

  it('maps fastify body errors to 413/415', () => {
    expect(
      toMappedError(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE' })).status,
    ).toBe(413);
    expect(
      toMappedError(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }))
        .status,
    ).toBe(415);
  });

  it('maps connection errors to 503 and hides unknown errors behind 500', () => {
    expect(
      toMappedError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))
        .status,
    ).toBe(503);
    const m = toMappedError(new Error('secret internals'));
    expect(m).toMatchObject({ status: 500, code: ErrorCode.Internal, unexpected: true });
    expect(m.message).not.toContain('secret');
  });
});
