import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import Redis from 'ioredis';
import {
  type BenchOptions,
  type BenchReport,
  LatencyRecorder,
  medianOf,
  nowMs,
  progress,
  ratios,
  round,
  openLoop,
} from '../harness';
import { startS3ServerProcess } from '../support/s3-test-server';
import { buildStateStack } from '../support/state-stack';

async function deletePrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

function runIncrementer(env: Record<string, string>): Promise<{ ok: number; conflicts: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(__dirname, '..', 'support', 'state-incrementer.js')],
      {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`incrementer exited ${code}: ${err}`));
      const last = out.trim().split('\n').pop() ?? '{}';
      resolve(JSON.parse(last) as { ok: number; conflicts: number });
    });
  });
}

/**
 * `npm run bench -- state`: save latency (lock + merge patch + Redis + S3 write-through to a local
 * s3rver) against a bare S3 PutObject of the same body to the same server, open loop; then lost
 * updates under 3 processes × N read-modify-write increments (If-Match, retry on 412).
 * Flags: --size saves per rep (default 500), --rate saves/s (default 50), --increments (1000).
 */
export async function stateScenario(options: BenchOptions): Promise<BenchReport> {
  const size = options.size ?? 500;
  const rate = Number(options.flags.rate ?? 50);
  const increments = Number(options.flags.increments ?? 1000);
  const prefix = `sybench:state:${randomBytes(4).toString('hex')}:`;
  const s3 = await startS3ServerProcess('switchyard-bench');
  const env = {
    ...s3.env,
    REDIS_URL: options.redisUrl,
    REDIS_KEY_PREFIX: prefix,
    S3_PREFIX: 'bench/',
    LOG_LEVEL: 'error',
  };
  const stack = await buildStateStack(env);
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });
  const payload = { owner: 'bench', tags: ['a', 'b', 'c'], notes: 'x'.repeat(800) };
  const keys = 100;
  try {
    progress(`state: warm-up (s3rver at ${s3.endpoint})`);
    for (let i = 0; i < 100; i++) {
      await stack.state.patch(`bench/doc-${i % keys}`, { ...payload, n: i }, undefined, 'bench');
      await client.send(
        new PutObjectCommand({
          Bucket: s3.bucket,
          Key: `baseline/doc-${i % keys}.json`,
          Body: JSON.stringify({ ...payload, n: i }),
        }),
      );
    }
    const ours: Record<string, number>[] = [];
    const base: Record<string, number>[] = [];
    for (let rep = 1; rep <= options.reps; rep++) {
      let notStored = 0;
      const measureSaves = () =>
        openLoop(size, rate, async (i) => {
          const r = await stack.state.patch(`bench/doc-${i % keys}`, { n: i }, undefined, 'bench');
          if (!r.stored) notStored++;
        });
      const measurePuts = () =>
        openLoop(size, rate, async (i) => {
          const body = JSON.stringify({
            key: `doc-${i % keys}`,
            version: i,
            value: { ...payload, n: i },
          });
          await client.send(
            new PutObjectCommand({
              Bucket: s3.bucket,
              Key: `baseline/doc-${i % keys}.json`,
              Body: body,
              Metadata: { version: String(i) },
            }),
          );
        });
      // Alternate the order so a burst of load on the shared machine does not favour one side.
      let saves: LatencyRecorder;
      let puts: LatencyRecorder;
      if (rep % 2 === 1) {
        saves = await measureSaves();
        puts = await measurePuts();
      } else {
        puts = await measurePuts();
        saves = await measureSaves();
      }
      ours.push({
        save_p50_ms: saves.percentileMs(50),
        save_p99_ms: saves.percentileMs(99),
        not_written_through: notStored,
      });
      base.push({ put_p50_ms: puts.percentileMs(50), put_p99_ms: puts.percentileMs(99) });
      progress(
        `rep ${rep}: save p50 ${saves.percentileMs(50)} ms p99 ${saves.percentileMs(99)} ms | bare PutObject p50 ${puts.percentileMs(50)} ms p99 ${puts.percentileMs(99)} ms`,
      );
    }

    progress(`state: 3 processes × ${increments} increments (GET + PUT If-Match, retry on 412)`);
    const counterKey = 'bench/counter';
    await stack.state.put(counterKey, { count: 0 }, 0, 'bench');
    const t0 = nowMs();
    const writers = await Promise.all(
      [1, 2, 3].map(() =>
        runIncrementer({ ...env, INCREMENTS: String(increments), KEY: counterKey }),
      ),
    );
    const seconds = (nowMs() - t0) / 1000;
    const successes = writers.reduce((s, w) => s + w.ok, 0);
    const final = (await stack.state.get(counterKey)).value as { count: number };
    const lost = successes - final.count;
    progress(
      `increments: ${successes} accepted, final count ${final.count}, 412 retries ${writers.map((w) => w.conflicts).join('/')}, ${round(successes / seconds, 0)} writes/s`,
    );

    const results: Record<string, number> = {
      ...medianOf(ours),
      lost_updates: lost,
      increments_accepted: successes,
      increment_writes_per_s: round(successes / seconds, 1),
    };
    const baseline = medianOf(base);
    return {
      scenario: 'state',
      size,
      reps: options.reps,
      results,
      baseline,
      ratio: {
        ...ratios(
          { p50: results.save_p50_ms, p99: results.save_p99_ms },
          { p50: baseline.put_p50_ms, p99: baseline.put_p99_ms },
          ['p50', 'p99'],
        ),
      },
      goals: {
        'save_p99_ms<=20': (results.save_p99_ms ?? Infinity) <= 20,
        'lost_updates==0': lost === 0,
      },
      conditions: {
        rate_per_s: rate,
        keys,
        value_bytes: JSON.stringify(payload).length,
        increments_per_process: increments,
        processes: 3,
        s3: 's3rver on loopback (own process)',
        redis: options.redisUrl,
      },
    };
  } finally {
    client.destroy();
    await stack.close();
    await s3.destroy();
    await deletePrefix(options.redisUrl, prefix);
  }
}
