import { randomUUID } from 'node:crypto';
import { AppException, type FieldProblem } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { zodProblems } from '../common/errors/zod-problems.util';
import {
  type AgentMessage,
  type AgentMessageInput,
  agentMessageSchema,
} from './agent-message.schema';

/** A validated message and its wire form. */
export interface EncodedMessage {
  message: AgentMessage;
  body: Buffer;
}

export type DecodeResult =
  { ok: true; message: AgentMessage } | { ok: false; reason: string; problems?: FieldProblem[] };

/**
 * Fills id/timestamp/correlationId, validates with the one AgentMessage schema and serialises.
 * Throws `VALIDATION_FAILED` (400) for an invalid message and `PAYLOAD_TOO_LARGE` (413) above
 * `maxBytes` — both transports call this, so they accept and refuse exactly the same messages.
 */
export function encodeMessage(input: AgentMessageInput, maxBytes: number): EncodedMessage {
  const id = input.id ?? randomUUID();
  const candidate = {
    ...input,
    id,
    timestamp: input.timestamp ?? new Date().toISOString(),
    correlationId: input.correlationId ?? id,
  };
  const parsed = agentMessageSchema.safeParse(candidate);
  if (!parsed.success) {
    throw AppException.validation('Invalid bus message', zodProblems(parsed.error));
  }
  let json: string;
  try {
    json = JSON.stringify(parsed.data);
  } catch (e) {
    throw AppException.validation('Invalid bus message', [
      { field: 'payload', message: `not serialisable as JSON: ${(e as Error).message}` },
    ]);
  }
  const body = Buffer.from(json, 'utf8');
  if (body.length > maxBytes) throw tooLarge(body.length, maxBytes);
  return { message: parsed.data, body };
}

export function tooLarge(bytes: number, maxBytes: number): AppException {
  return new AppException(
    ErrorCode.PayloadTooLarge,
    `Bus message is ${bytes} bytes; the limit is ${maxBytes} bytes (BUS_MAX_MESSAGE_BYTES)`,
    { bytes, limit: maxBytes },
  );
}

/** Parses and validates a received body. Never throws: the caller dead-letters what fails. */
export function decodeMessage(body: Buffer, maxBytes: number): DecodeResult {
  if (body.length > maxBytes) {
    return { ok: false, reason: `message is ${body.length} bytes; the limit is ${maxBytes}` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: `body is not JSON: ${(e as Error).message}` };
  }
  const parsed = agentMessageSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = zodProblems(parsed.error);
    return {
      ok: false,
      reason: `invalid AgentMessage: ${problems.map((p) => `${p.field || '(body)'}: ${p.message}`).join('; ')}`,
      problems,
    };
  }
  return { ok: true, message: parsed.data };
}

/** What a responder passes to `sendResponse` (correlation id comes from the request). */
export type ResponseInput = Omit<AgentMessageInput, 'correlationId' | 'toAgent'> & {
  toAgent?: string;
};

/**
 * Encodes the response to `request`: same correlation id, addressed to the requester, and —
 * unless said otherwise — the request's task, attempt and priority. Both transports use it.
 */
export function encodeResponse(
  request: AgentMessage,
  response: ResponseInput,
  maxBytes: number,
): EncodedMessage {
  return encodeMessage(
    {
      taskId: request.taskId,
      attempt: request.attempt,
      priority: request.priority,
      ...response,
      toAgent: response.toAgent ?? request.fromAgent,
      correlationId: request.correlationId,
      replyTo: undefined,
    },
    maxBytes,
  );
}
