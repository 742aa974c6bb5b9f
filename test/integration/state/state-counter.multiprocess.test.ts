import { type S3TestServer, freePort, startS3Server } from '../../../bench/support/s3-test-server';
import { deletePrefix } from '../../support/redis-cleanup';
import { ADMIN_TOKEN, uniquePrefix } from '../../support/test-app';
import { type ChildProcess } from 'node:child_process';
import { spawnTs, stopChild } from './support/child-process';

/** Increments per process (the benchmark does 3 × 1,000; see bench/scenarios/state.ts). */
const N = Number(process.env.STATE_MP_INCREMENTS ?? 200);
const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

async function waitLive(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`control plane exited: ${stderr()}`);
    try {
      if ((await fetch(`${url}/health/live`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`control plane at ${url} not live within 60 s: ${stderr()}`);
}

/** GET + PUT If-Match, retrying on 412, `n` times; returns [successful writes, 412 retries]. */
async function incrementLoop(url: string, key: string, n: number): Promise<[number, number]> {
  let ok = 0;
  let conflicts = 0;
  while (ok < n) {
    const got = await fetch(`${url}/v1/state/${key}`, { headers });
    const doc = (await got.json()) as { version: number; value: { count: number } };
    const put = await fetch(`${url}/v1/state/${key}`, {
      method: 'PUT',
      headers: { ...headers, 'if-match': `"${doc.version}"` },
      body: JSON.stringify({ value: { count: doc.value.count + 1 } }),
    });
    if (put.status === 200) ok++;
    else if (put.status === 412) conflicts++;
    else throw new Error(`PUT answered ${put.status}: ${await put.text()}`);
    await put.arrayBuffer().catch(() => undefined);
  }
  return [ok, conflicts];
}

async function patchLoop(url: string, key: string, worker: number, n: number): Promise<number> {
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${url}/v1/state/${key}`, {
      method: 'PATCH',
      headers: { ...headers, 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ [`w${worker}-${i}`]: i }),
    });
    if (res.status !== 200) throw new Error(`PATCH answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  }
  return n;
}

describe('three control-plane processes share one document (real Redis, s3rver)', () => {
  const prefix = uniquePrefix('state-mp');
  let s3: S3TestServer;
  const servers: { url: string; child: ChildProcess; stderr: () => string }[] = [];

  beforeAll(async () => {
    s3 = await startS3Server();
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const child = spawnTs('src/cli/main.ts', ['serve'], {
        ...s3.env,
        S3_PREFIX: `${prefix.replace(/:/g, '-')}/`,
        PORT: String(port),
        HOST: '127.0.0.1',
        SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
        REDIS_KEY_PREFIX: prefix,
        BUS_TRANSPORT: 'memory',
        LOG_LEVEL: 'warn',
        DOCS_ENABLED: 'false',
      });
      let err = '';
      child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
      child.stdout!.resume();
      servers.push({ url: `http://127.0.0.1:${port}`, child, stderr: () => err });
    }
    await Promise.all(servers.map((s) => waitLive(s.url, s.child, s.stderr)));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => stopChild(s.child)));
    await s3?.destroy();
    await deletePrefix(prefix);
  });

  it(`3 × ${N} read-modify-write increments with If-Match and retry on 412: none lost`, async () => {
    const key = 'counter/put';
    const created = await fetch(`${servers[0].url}/v1/state/${key}`, {
      method: 'PUT',
      headers: { ...headers, 'if-none-match': '*' },
      body: JSON.stringify({ value: { count: 0 } }),
    });
    expect(created.status).toBe(200);
    const results = await Promise.all(servers.map((s) => incrementLoop(s.url, key, N)));
    const successes = results.reduce((sum, [ok]) => sum + ok, 0);
    const doc = (await (await fetch(`${servers[1].url}/v1/state/${key}`, { headers })).json()) as {
      version: number;
      value: { count: number };
    };
    expect(doc.value.count).toBe(successes);
    expect(successes).toBe(3 * N);
    expect(doc.version).toBe(3 * N + 1);
    process.stderr.write(`[state-mp] 412 retries: ${results.map(([, c]) => c).join(', ')}\n`);
  }, 240_000);

  it(`3 × ${N} concurrent merge patches: every patch applied`, async () => {
    const key = 'counter/patch';
    await Promise.all(servers.map((s, i) => patchLoop(s.url, key, i, N)));
    const doc = (await (await fetch(`${servers[2].url}/v1/state/${key}`, { headers })).json()) as {
      version: number;
      value: Record<string, number>;
    };
    expect(Object.keys(doc.value)).toHaveLength(3 * N);
    expect(doc.version).toBe(3 * N);
  }, 240_000);

  it('the durable copy converges to the final versions', async () => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const ready = (await (await fetch(`${servers[0].url}/health/ready`)).json()) as {
        checks: Record<string, { pending?: number; status: string }>;
      };
      if (ready.checks['state-store']?.pending === 0) break;
      if (Date.now() > deadline) throw new Error(JSON.stringify(ready.checks['state-store']));
      await new Promise((r) => setTimeout(r, 200));
    }
    const sync = await fetch(`${servers[0].url}/v1/state-sync`, {
      method: 'POST',
      headers: { authorization: headers.authorization },
    });
    expect(await sync.json()).toMatchObject({ loaded: 0, uploaded: 0, failed: 0, pending: 0 });
  });
});
