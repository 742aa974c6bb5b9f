import { join } from 'node:path';
import {
  Api,
  Cluster,
  E2E_AGENTS,
  ensureBuilt,
  freePort,
  type Proc,
} from '../../support/processes';

// Real processes on the shared Redis and RabbitMQ of a busy 2-core machine.
jest.setTimeout(120_000);

interface Reply {
  status: number;
  type: string;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies of several shapes; the test asserts on them
  json: any;
}

async function call(url: string, method = 'GET'): Promise<Reply> {
  const r = await fetch(url, { method, signal: AbortSignal.timeout(5000) });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, type: r.headers.get('content-type') ?? '', text, json };
}

/**
 * The worker process's own HTTP server (WORKER_HTTP_PORT): liveness, readiness (Redis, RabbitMQ,
 * its agents in the registry; not ready while draining) and the worker process's metrics.
 */
describe('worker HTTP server: /health/live, /health/ready, /metrics (e2e, real processes)', () => {
  const cluster = new Cluster('whttp');
  let api: Api;
  let worker: Proc;
  let base: string;

  beforeAll(async () => {
    await ensureBuilt();
    const cp = await cluster.startControlPlane('cp1');
    api = new Api(cp.url);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    worker = await cluster.startWorker('wh', join(E2E_AGENTS, 'sleeper'), ['sleeper'], api, {
      WORKER_HTTP_PORT: String(port),
      WORKER_HTTP_HOST: '127.0.0.1',
      WORKER_DRAIN_TIMEOUT_MS: '20000',
    });
  });

  afterAll(async () => {
    await cluster.destroy();
  });

  it('answers liveness with the worker id', async () => {
    const r = await call(`${base}/health/live`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'ok', workerId: 'wh' });
  });

  it('is ready once Redis and RabbitMQ answer and its agents are registered', async () => {
    const r = await call(`${base}/health/ready`);
    expect(r.status).toBe(200);
    expect(r.json.status).toBe('ok');
    expect(r.json.checks.redis.status).toBe('up');
    expect(r.json.checks.rabbitmq.status).toBe('up');
    expect(r.json.checks.agents).toEqual({ status: 'up', agents: 1 });
  });

  it("serves this worker process's metrics: default process metrics and its task counter", async () => {
    const task = await api.submit('/v1/tasks', { capability: 'sleep', payload: { ms: 10 } });
    await cluster.waitFor(
      async () => (await api.get(`/v1/tasks/${task.id}`)).body.status === 'COMPLETED',
      30_000,
      `task ${task.id} completed`,
    );
    const r = await call(`${base}/metrics`);
    expect(r.status).toBe(200);
    expect(r.type).toContain('text/plain');
    expect(r.text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(r.text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    // Counted by the worker that ran it, so it is this process's registry.
    expect(r.text).toMatch(/^tasks_total\{agent="sleeper@wh",status="completed"\} 1$/m);
  });

  it('answers unknown paths with 404 and other methods with 405, in the API error shape', async () => {
    const missing = await call(`${base}/v1/tasks`);
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatchObject({ code: 'NOT_FOUND' });
    expect(missing.json.error.message).toContain('/v1/tasks');
    const post = await call(`${base}/health/ready`, 'POST');
    expect(post.status).toBe(405);
    expect(post.json.error.message).toContain('POST');
  });

  it('reports not ready as soon as it drains, while liveness still answers', async () => {
    const task = await api.submit('/v1/tasks', {
      capability: 'sleep',
      payload: { ms: 8000 },
      timeoutMs: 60_000,
    });
    await cluster.waitFor(
      async () => (await api.get(`/v1/tasks/${task.id}`)).body.status === 'RUNNING',
      30_000,
      `task ${task.id} running`,
    );
    worker.child.kill('SIGTERM');
    const draining = await cluster.waitFor(
      async () => {
        const r = await call(`${base}/health/ready`).catch(() => undefined);
        return r && r.status === 503 ? r : undefined;
      },
      10_000,
      'readiness to fail while draining',
      50,
    );
    expect(draining.json).toMatchObject({ status: 'error', draining: true });
    expect((await call(`${base}/health/live`)).status).toBe(200);
    await worker.exited;
    expect(worker.exitCode).toBe(0);
    await expect(call(`${base}/health/live`)).rejects.toThrow();
  });
});
