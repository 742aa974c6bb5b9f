import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { sleep } from '../harness';

const ROOT = join(__dirname, '..', '..', '..');
const BIN = join(ROOT, 'bin', 'switchyard.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A control plane and workers spawned from the compiled CLI, isolated by prefix/namespace. */
export class SwitchyardStack {
  readonly token = `bench-${randomBytes(12).toString('hex')}`;
  readonly id = randomBytes(4).toString('hex');
  readonly prefix = `sybench:${this.id}:`;
  readonly namespace = `sybench-${this.id}`;
  readonly processes: ChildProcess[] = [];
  url = '';
  /** Every control plane started: its URL and pid (for CPU accounting). */
  readonly controlPlanes: { url: string; pid: number }[] = [];
  private readonly stderr: string[] = [];

  constructor(
    private readonly redisUrl: string,
    private readonly amqpUrl: string,
    private readonly extraEnv: Record<string, string> = {},
  ) {}

  env(more: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      REDIS_URL: this.redisUrl,
      AMQP_URL: this.amqpUrl,
      REDIS_KEY_PREFIX: this.prefix,
      BUS_NAMESPACE: this.namespace,
      SWITCHYARD_ADMIN_TOKEN: this.token,
      LOG_LEVEL: 'warn',
      LOG_REQUESTS: 'false',
      ...this.extraEnv,
      ...more,
    };
  }

  private start(args: string[], env: NodeJS.ProcessEnv, nodeArgs: string[] = []): ChildProcess {
    const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr.push(d.toString());
      if (this.stderr.length > 200) this.stderr.shift();
    });
    this.processes.push(child);
    return child;
  }

  /**
   * `profileDir`: the control plane writes a V8 CPU profile there when it exits (`--cpu-prof`),
   * for `npm run bench -- pipeline --profile DIR`.
   */
  async startControlPlane(profileDir?: string): Promise<string> {
    const port = await freePort();
    const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const child = this.start(['serve'], this.env({ PORT: String(port) }), nodeArgs);
    const url = `http://127.0.0.1:${port}`;
    await this.until(
      `control plane at ${url}`,
      // A loaded machine (other benchmarks and tests) can take longer than 30 s to start one.
      90_000,
      async () => (await fetch(`${url}/health/ready`)).ok,
    );
    this.url ||= url;
    this.controlPlanes.push({ url, pid: child.pid! });
    return url;
  }

  async startWorker(agentsDir: string, workerId: string): Promise<void> {
    this.start(['worker', '--agents', agentsDir], this.env({ WORKER_ID: workerId }));
  }

  async waitForAgents(capability: string, count: number): Promise<void> {
    await this.until(`${count} agent(s) with ${capability}`, 90_000, async () => {
      const res = await this.api('GET', `/v1/agents?capability=${capability}`);
      return ((await res.json()) as { items: unknown[] }).items.length >= count;
    });
  }

  api(method: string, path: string, body?: unknown, base = this.url): Promise<Response> {
    return fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  private async until(
    what: string,
    timeoutMs: number,
    probe: () => Promise<boolean>,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await probe().catch(() => false)) return;
      const dead = this.processes.find((p) => p.exitCode !== null);
      if (dead)
        throw new Error(
          `a Switchyard process exited (${dead.exitCode}) while waiting for ${what}:\n${this.stderr.join('')}`,
        );
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}:\n${this.stderr.join('')}`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.processes.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null) return resolve();
            const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
            p.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            p.kill('SIGTERM');
          }),
      ),
    );
  }
}
