import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { type AddressRules, refusalReason } from './address-policy';
import { agentInput } from './command.executor';
import { abortFailure, errorMessage, failure, type ExecutionErrorType } from './execution-error';
import { effectiveTimeoutMs, scopedSignal } from './execution-signal';
import type { ExecutorOptions } from './executor-options';
import type {
  ExecutionContext,
  ExecutionRequest,
  ExecutionResult,
  Executor,
} from './executor.types';

class RefusedAddressError extends Error {
  readonly code = 'ESWITCHYARD_REFUSED_ADDRESS';
}

/**
 * A DNS lookup that drops addresses the rules refuse. The connection uses exactly the addresses
 * checked here, so a hostname cannot pass the check and then resolve elsewhere (DNS rebinding).
 */
export function guardedLookup(rules: AddressRules): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const refused = addresses
        .map((a) => refusalReason(a.address, rules))
        .filter((r) => r !== undefined);
      if (refused.length > 0) {
        // Refuse the name if any of its addresses is refused: which one is used is not ours to pick.
        return callback(
          new RefusedAddressError(`${hostname} resolves to ${refused.join('; ')}`),
          '',
          0,
        );
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      return callback(null, first.address, first.family);
    });
  };
}

function statusError(status: number): ExecutionErrorType {
  if (status === 401 || status === 403) return 'auth';
  if (status === 404 || status === 410) return 'not_found';
  if (status === 408 || status === 504) return 'timeout';
  if (status === 429) return 'rate_limited';
  if (status === 400 || status === 422) return 'validation';
  if (status >= 500) return 'upstream_error';
  return 'http_status';
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
]);

/**
 * `http`: POSTs the task (the same JSON document a command agent reads on stdin) to the agent's
 * URL and takes the JSON response body as the output. Addresses are checked before connecting
 * (see {@link refusalReason}); redirects are not followed; the body is capped.
 * 2xx → ok (empty body → `null`); 5xx → retryable `upstream_error`; 429 → retryable `rate_limited`;
 * 401/403 `auth`; 404 `not_found`; other 4xx fail without retry.
 */
export class HttpExecutor implements Executor {
  readonly kind = 'http' as const;
  private readonly rules: AddressRules;

  constructor(
    private readonly url: string,
    private readonly options: Pick<
      ExecutorOptions,
      | 'defaultTimeoutMs'
      | 'httpMaxResponseBytes'
      | 'httpAllowPrivate'
      | 'httpAllowLinkLocal'
      | 'httpAllowLoopback'
    >,
  ) {
    this.rules = {
      allowPrivate: options.httpAllowPrivate,
      allowLinkLocal: options.httpAllowLinkLocal,
      allowLoopback: options.httpAllowLoopback,
    };
  }

  async execute(request: ExecutionRequest, ctx: ExecutionContext): Promise<ExecutionResult> {
    const started = Date.now();
    const usage = () => ({ durationMs: Date.now() - started });
    let target: URL;
    try {
      target = new URL(this.url);
    } catch {
      return failure('validation', `agent ${ctx.agent.name} has an invalid url: ${this.url}`);
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      return failure('validation', `agent ${ctx.agent.name} url must be http(s): ${this.url}`);
    }
    const host = target.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      const reason = refusalReason(host, this.rules);
      if (reason)
        return failure('refused_address', `refused to call ${target.origin}: ${reason}`, {
          url: this.url,
        });
    }
    const timeoutMs = effectiveTimeoutMs(
      request.timeoutMs,
      ctx.agent.timeoutSeconds,
      this.options.defaultTimeoutMs,
    );
    const scoped = scopedSignal(ctx.signal, timeoutMs);
    const body = agentInput(request);
    try {
      const res = await this.post(
        target,
        JSON.stringify(body),
        request,
        scoped.signal,
        ctx.switchyard,
      );
      if (res.kind === 'error') {
        if (scoped.signal.aborted) return abortFailure(scoped.signal, usage());
        const err = res.error;
        if (err instanceof RefusedAddressError)
          return failure(
            'refused_address',
            `refused to call ${target.origin}: ${err.message}`,
            { url: this.url },
            usage(),
          );
        const code = (err as NodeJS.ErrnoException).code;
        if (code && CONNECTION_CODES.has(code))
          return failure(
            'connection',
            `cannot reach ${target.origin}: ${err.message}`,
            { code },
            usage(),
          );
        return failure(
          'connection',
          `request to ${target.origin} failed: ${errorMessage(err)}`,
          { code },
          usage(),
        );
      }
      if (res.kind === 'too_large') {
        return failure(
          'output_too_large',
          `response body exceeded ${this.options.httpMaxResponseBytes} bytes`,
          { limitBytes: this.options.httpMaxResponseBytes, status: res.status },
          usage(),
        );
      }
      const { status, text } = res;
      if (status < 200 || status > 299) {
        return failure(
          statusError(status),
          `${target.origin} answered ${status}`,
          { status, bodyHead: text.slice(0, 500) },
          usage(),
        );
      }
      if (text.trim() === '') return { ok: true, output: null, usage: usage() };
      try {
        return { ok: true, output: JSON.parse(text) as unknown, usage: usage() };
      } catch (err) {
        return failure(
          'bad_output',
          `response of ${target.origin} is not JSON: ${errorMessage(err)}`,
          { status, bodyHead: text.slice(0, 500) },
          usage(),
        );
      }
    } finally {
      scoped.dispose();
    }
  }

  private post(
    target: URL,
    body: string,
    request: ExecutionRequest,
    signal: AbortSignal,
    switchyard: ExecutionContext['switchyard'],
  ): Promise<
    | { kind: 'response'; status: number; text: string }
    | { kind: 'too_large'; status: number }
    | { kind: 'error'; error: Error }
  > {
    const lib = target.protocol === 'https:' ? https : http;
    const cap = this.options.httpMaxResponseBytes;
    return new Promise((resolve) => {
      let done = false;
      const settle = (v: Parameters<typeof resolve>[0]) => {
        if (!done) {
          done = true;
          resolve(v);
        }
      };
      const req = lib.request(
        target,
        {
          method: 'POST',
          signal,
          lookup: guardedLookup(this.rules),
          agent: false,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            'content-length': Buffer.byteLength(body),
            'idempotency-key': `${request.taskId}:${request.attempt}`,
            'x-switchyard-task-id': request.taskId,
            'x-switchyard-attempt': String(request.attempt),
            // The task credential, so the service can delegate back through Switchyard.
            ...(switchyard
              ? {
                  'x-switchyard-url': switchyard.url,
                  'x-switchyard-task-token': switchyard.token,
                }
              : {}),
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const declared = Number(res.headers['content-length']);
          if (Number.isFinite(declared) && declared > cap) {
            res.destroy();
            req.destroy();
            return settle({ kind: 'too_large', status });
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > cap) {
              res.destroy();
              req.destroy();
              settle({ kind: 'too_large', status });
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () =>
            settle({ kind: 'response', status, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (error) => settle({ kind: 'error', error }));
          res.on('close', () =>
            settle({ kind: 'error', error: new Error('response ended early') }),
          );
        },
      );
      req.on('error', (error) => settle({ kind: 'error', error }));
      req.end(body);
    });
  }
}
