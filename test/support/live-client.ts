import { WebSocket } from 'ws';

export interface LiveMessage {
  type: string;
  [key: string]: unknown;
}

/** A test WebSocket client for /v1/live that records every message and close. */
export class LiveTestClient {
  readonly messages: LiveMessage[] = [];
  closed?: { code: number; reason: string };
  private readonly waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.messages.push(JSON.parse(data.toString('utf8')) as LiveMessage);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
    ws.on('error', () => this.wake());
  }

  /** Connects to `baseUrl` (http://host:port) at /v1/live. Resolves once the socket is open. */
  static async connect(
    baseUrl: string,
    options: { token?: string; query?: string; autoPong?: boolean } = {},
  ): Promise<LiveTestClient> {
    const url = `${baseUrl.replace(/^http/, 'ws')}/v1/live${options.query ?? ''}`;
    const ws = new WebSocket(url, {
      headers: options.token ? { Authorization: `Bearer ${options.token}` } : {},
      autoPong: options.autoPong ?? true,
    });
    const client = new LiveTestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  ofType(type: string): LiveMessage[] {
    return this.messages.filter((m) => m.type === type);
  }

  events(): { seq: number; subscriptions: string[]; event: Record<string, unknown> }[] {
    return this.ofType('event') as unknown as {
      seq: number;
      subscriptions: string[];
      event: Record<string, unknown>;
    }[];
  }

  /** Waits until `predicate` holds (checked on every message/close) or fails after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for ${what}; got ${JSON.stringify(this.messages.slice(-5))} closed=${JSON.stringify(this.closed)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the next message of `type` after the ones already seen. */
  async next(type: string, timeoutMs = 5000): Promise<LiveMessage> {
    const seen = this.ofType(type).length;
    await this.waitFor(() => this.ofType(type).length > seen, timeoutMs, `a '${type}' message`);
    return this.ofType(type)[seen];
  }

  /** Waits for the first message of `type` (including ones already received). */
  async first(type: string, timeoutMs = 5000): Promise<LiveMessage> {
    await this.waitFor(() => this.ofType(type).length > 0, timeoutMs, `a '${type}' message`);
    return this.ofType(type)[0];
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    await this.waitFor(() => this.closed !== undefined, timeoutMs, 'close');
    return this.closed!;
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
