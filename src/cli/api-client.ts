import type { Command } from 'commander';
import { CliError } from './cli-error';
import { EXIT } from './exit-codes';

export interface ClientOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

const DEFAULT_URL = 'http://localhost:3000';
const REQUEST_TIMEOUT_MS = 30_000;

/** Adds `--url`, `--token` and `--json` to a command that talks to the API. */
export function withClientOptions(command: Command): Command {
  return command
    .option('--url <url>', `control-plane URL (env SWITCHYARD_URL, default ${DEFAULT_URL})`)
    .option('--token <token>', 'API token (env SWITCHYARD_TOKEN)')
    .option('--json', 'machine-readable JSON output');
}

interface ErrorBody {
  error?: { code?: string; message?: string; details?: unknown; requestId?: string };
}

interface FieldProblem {
  field: string;
  message: string;
}

function fieldProblems(details: unknown): FieldProblem[] {
  const fields = (details as { fields?: unknown } | null | undefined)?.fields;
  if (!Array.isArray(fields)) return [];
  return fields.filter(
    (f): f is FieldProblem =>
      typeof (f as FieldProblem | null)?.field === 'string' &&
      typeof (f as FieldProblem).message === 'string',
  );
}

/**
 * The CLI's HTTP client: JSON over fetch, the bearer token, and one error → exit-code mapping
 * (docs/CLI-REFERENCE.md): unreachable 4, 401/403 5, 404 6, 400 2 (each bad field listed),
 * anything else 1.
 */
export class ApiClient {
  readonly baseUrl: string;
  readonly token: string | undefined;

  constructor(options: ClientOptions = {}) {
    // The CLI is a client, not the server: its own defaults come from the caller's environment.
    const env = process.env;
    this.baseUrl = (options.url ?? env.SWITCHYARD_URL ?? DEFAULT_URL).replace(/\/+$/, '');
    this.token = options.token ?? (env.SWITCHYARD_TOKEN || undefined);
    try {
      new URL(this.baseUrl);
    } catch {
      throw new CliError(`--url '${this.baseUrl}' is not a URL (e.g. ${DEFAULT_URL})`, EXIT.usage);
    }
  }

  /** The live feed URL (ws:// or wss://). */
  get liveUrl(): string {
    return `${this.baseUrl.replace(/^http/i, 'ws')}/v1/live`;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    return this.request<T>('POST', path, body, headers);
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders?: Record<string, string>,
  ): Promise<T> {
    const res = await this.fetch(method, path, body, extraHeaders);
    const text = await res.text();
    if (!res.ok) throw this.httpError(method, path, res.status, text);
    if (text.length === 0) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  }

  /** GET returning the raw body (e.g. /metrics). */
  async text(path: string): Promise<string> {
    const res = await this.fetch('GET', path);
    const text = await res.text();
    if (!res.ok) throw this.httpError('GET', path, res.status, text);
    return text;
  }

  private async fetch(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (e) {
      throw this.networkError(e);
    }
  }

  private networkError(e: unknown): CliError {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === 'TimeoutError' || err.name === 'AbortError') {
      return new CliError(
        `Switchyard at ${this.baseUrl} did not answer within ${REQUEST_TIMEOUT_MS / 1000}s`,
        EXIT.unreachable,
      );
    }
    const code = err.cause?.code ?? '';
    const why = code || err.cause?.message || err.message;
    return new CliError(
      `cannot reach Switchyard at ${this.baseUrl} — is \`npm start\` running? (${why})`,
      EXIT.unreachable,
    );
  }

  private httpError(method: string, path: string, status: number, text: string): CliError {
    let body: ErrorBody = {};
    try {
      body = JSON.parse(text) as ErrorBody;
    } catch {
      // not our error shape (a proxy?); show the start of the text
    }
    const code = body.error?.code ?? `HTTP_${status}`;
    const message = body.error?.message ?? (text.slice(0, 200) || `HTTP ${status}`);
    const head = `${method} ${path} → ${status} ${code}: ${message}`;
    if (status === 401) {
      const hint = this.token
        ? 'the token was refused; check --token / SWITCHYARD_TOKEN'
        : 'no token given: pass --token or set SWITCHYARD_TOKEN';
      return new CliError(`${head}\n  (${hint})`, EXIT.auth);
    }
    if (status === 403)
      return new CliError(`${head}\n  (this token's role may not do that)`, EXIT.auth);
    if (status === 404) return new CliError(head, EXIT.notFound);
    if (status === 400 || status === 422) {
      const problems = fieldProblems(body.error?.details);
      const lines = problems.map((p) => `  - ${p.field || '(body)'}: ${p.message}`);
      return new CliError([head, ...lines].join('\n'), EXIT.usage);
    }
    return new CliError(head, EXIT.failure, status);
  }
}
