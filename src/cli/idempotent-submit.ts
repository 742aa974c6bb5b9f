import { randomUUID } from 'node:crypto';
import type { ApiClient } from './api-client';
import { CliError } from './cli-error';
import { EXIT } from './exit-codes';

/** How often a submit is retried (same key) after a 503 or a dropped connection. */
const SUBMIT_ATTEMPTS = 4;
const RETRY_DELAY_MS = 1000;

/**
 * POSTs a task or workflow with an idempotency key, always: the one given (`--idempotency-key`),
 * else the body's `idempotencyKey`, else a new UUID. The key goes in the body (what the server
 * dedupes on) and in the `Idempotency-Key` header. A 503 or a dropped connection can mean the
 * submission was stored anyway, so it is retried with the SAME key (the server answers with the
 * task it already has, never a duplicate); if it still fails, the error names the key to retry with.
 */
export async function submitIdempotent<T>(
  api: ApiClient,
  path: '/v1/tasks' | '/v1/workflows',
  definition: unknown,
  givenKey?: string,
  warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  delayMs = RETRY_DELAY_MS,
): Promise<T> {
  if (typeof definition !== 'object' || definition === null || Array.isArray(definition)) {
    throw new CliError(`the ${path} body must be a JSON object`, EXIT.usage);
  }
  const body = definition as Record<string, unknown>;
  const inBody = typeof body.idempotencyKey === 'string' ? body.idempotencyKey : undefined;
  const key = givenKey ?? inBody ?? randomUUID();
  const withKey = { ...body, idempotencyKey: key };
  for (let attempt = 1; ; attempt++) {
    try {
      return await api.post<T>(path, withKey, { 'Idempotency-Key': key });
    } catch (e) {
      const retryable =
        e instanceof CliError && (e.exitCode === EXIT.unreachable || e.status === 503);
      if (!retryable) throw e;
      if (attempt >= SUBMIT_ATTEMPTS) {
        throw new CliError(
          `${e.message}\n  The submission may have been stored. Retry with the same key: --idempotency-key ${key}`,
          e.exitCode,
          e.status,
        );
      }
      warn(`submit failed (${e.message.split('\n')[0]}); retrying with Idempotency-Key ${key}`);
      await new Promise((r) => setTimeout(r, delayMs * attempt));
    }
  }
}
