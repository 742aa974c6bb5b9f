import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { hashToken } from '../../../src/auth/api-key.service';
import { run } from '../../../src/cli/main';
import { startS3Server, type S3TestServer } from '../../../bench/support/s3-test-server';
import { StateSyncService } from '../../../src/state/state-sync.service';
import { WorkflowArchiveService } from '../../../src/state/workflow-archive.service';
import { deletePrefix } from '../../support/redis-cleanup';
import { ADMIN_TOKEN as ADMIN, auth, startTestApp, type TestApp } from '../../support/test-app';

async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const OPERATOR = 'operator-token-0123456789';

describe('State REST API with S3 write-through (s3rver on loopback)', () => {
  let s3: S3TestServer;
  let t: TestApp;
  let client: S3Client;
  const s3Prefix = `t-${Date.now()}/`;

  const objectMeta = async (key: string) =>
    (
      await client.send(
        new HeadObjectCommand({ Bucket: s3.bucket, Key: `${s3Prefix}state/${key}.json` }),
      )
    ).Metadata;
  const objectBody = async (key: string) => {
    const out = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    return JSON.parse(await out.Body!.transformToString()) as Record<string, unknown>;
  };

  beforeAll(async () => {
    s3 = await startS3Server();
    client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    t = await startTestApp({
      ...s3.env,
      S3_PREFIX: s3Prefix,
      S3_RETRY_ATTEMPTS: '2',
      S3_RETRY_BASE_MS: '10',
      S3_REQUEST_TIMEOUT_MS: '1000',
      STATE_SYNC_INTERVAL_MS: '100',
      STATE_MAX_DOCUMENT_BYTES: '2048',
      STATE_NAMESPACE_STRATEGIES: 'lww=last-write-wins,merge=merge-patch',
      SWITCHYARD_API_KEYS: JSON.stringify([
        { name: 'ops', role: 'operator', sha256: hashToken(OPERATOR) },
      ]),
    });
  });

  afterAll(async () => {
    await t?.close();
    client?.destroy();
    await s3?.destroy();
    if (t) await deletePrefix(t.prefix);
  });

  it('creates, reads with an ETag, and replaces with If-Match (all three spellings)', async () => {
    const created = await request(t.server)
      .put('/v1/state/project/alpha')
      .set(auth())
      .set('If-None-Match', '*')
      .send({ value: { n: 1 } })
      .expect(200);
    expect(created.body).toMatchObject({ key: 'project/alpha', version: 1, value: { n: 1 } });
    expect(created.headers.etag).toBe('"1"');

    const got = await request(t.server).get('/v1/state/project/alpha').set(auth()).expect(200);
    expect(got.body).toEqual({
      key: 'project/alpha',
      version: 1,
      value: { n: 1 },
      updatedAt: expect.any(String),
      updatedBy: 'admin',
    });
    expect(got.headers.etag).toBe('"1"');

    let version = 1;
    for (const spelling of ['"1"', '2', 'W/"3"']) {
      const res = await request(t.server)
        .put('/v1/state/project/alpha')
        .set(auth())
        .set('If-Match', spelling)
        .send({ value: { n: version + 1 } })
        .expect(200);
      version = res.body.version as number;
    }
    expect(version).toBe(4);
  });

  it('answers 412 when the version moved and 428 without If-Match', async () => {
    const stale = await request(t.server)
      .put('/v1/state/project/alpha')
      .set(auth())
      .set('If-Match', '"1"')
      .send({ value: { n: 0 } })
      .expect(412);
    expect(stale.body.error.code).toBe('PRECONDITION_FAILED');
    expect(stale.body.error.details.currentVersion).toBe(4);
    const none = await request(t.server)
      .put('/v1/state/project/alpha')
      .set(auth())
      .send({ value: { n: 0 } })
      .expect(428);
    expect(none.body.error.code).toBe('PRECONDITION_REQUIRED');
    await request(t.server)
      .put('/v1/state/project/alpha')
      .set(auth())
      .set('If-Match', 'v1')
      .send({ value: 1 })
      .expect(400);
  });

  it('validates keys, bodies and document size', async () => {
    for (const bad of ['a//b', 'a/../b', '.hidden', `${'k'.repeat(257)}`, 'a/b%20c', 'a:b']) {
      const res = await request(t.server).get(`/v1/state/${bad}`).set(auth());
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    const extra = await request(t.server)
      .put('/v1/state/x')
      .set(auth())
      .set('If-Match', '0')
      .send({ value: 1, other: 2 })
      .expect(400);
    expect(JSON.stringify(extra.body.error.details)).toContain('other');
    await request(t.server)
      .put('/v1/state/x')
      .set(auth())
      .set('If-Match', '0')
      .send({})
      .expect(400);
    const big = await request(t.server)
      .put('/v1/state/x')
      .set(auth())
      .set('If-Match', '0')
      .send({ value: 'y'.repeat(4000) })
      .expect(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    await request(t.server).get('/v1/state/missing/doc').set(auth()).expect(404);
  });

  it('applies JSON merge patches (application/merge-patch+json) server-side', async () => {
    await request(t.server)
      .patch('/v1/state/project/beta')
      .set(auth())
      .set('content-type', 'application/merge-patch+json')
      .send(JSON.stringify({ a: 1, nested: { x: 1, y: 2 } }))
      .expect(200);
    const res = await request(t.server)
      .patch('/v1/state/project/beta')
      .set(auth())
      .send({ b: 2, nested: { y: null, z: 3 } })
      .expect(200);
    expect(res.body.value).toEqual({ a: 1, b: 2, nested: { x: 1, z: 3 } });
    expect(res.body.version).toBe(2);
    await request(t.server)
      .patch('/v1/state/project/beta')
      .set(auth())
      .set('If-Match', '1')
      .send({ c: 1 })
      .expect(412);
    const text = await request(t.server)
      .patch('/v1/state/project/beta')
      .set(auth())
      .set('content-type', 'text/plain')
      .send('c=1')
      .expect(415);
    expect(text.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('resolves conflicts per namespace: last-write-wins and merge-patch', async () => {
    // last-write-wins: If-Match optional, a stale one is overwritten anyway.
    await request(t.server)
      .put('/v1/state/lww/k')
      .set(auth())
      .send({ value: { a: 1 } })
      .expect(200);
    const lww = await request(t.server)
      .put('/v1/state/lww/k')
      .set(auth())
      .set('If-Match', '"7"')
      .send({ value: { b: 2 } })
      .expect(200);
    expect(lww.body).toMatchObject({ version: 2, value: { b: 2 } });
    // merge-patch: a stale PUT is merged into the current value.
    await request(t.server)
      .put('/v1/state/merge/k')
      .set(auth())
      .set('If-Match', '0')
      .send({ value: { a: 1, b: 1 } })
      .expect(200);
    await request(t.server)
      .put('/v1/state/merge/k')
      .set(auth())
      .set('If-Match', '1')
      .send({ value: { a: 2, b: 1 } })
      .expect(200);
    const merged = await request(t.server)
      .put('/v1/state/merge/k')
      .set(auth())
      .set('If-Match', '1')
      .send({ value: { c: 3 } })
      .expect(200);
    expect(merged.body).toMatchObject({ version: 3, value: { a: 2, b: 1, c: 3 } });
  });

  it('deletes (tombstone, versions keep counting) and lists by prefix with pagination', async () => {
    for (const k of ['list/a', 'list/b', 'list/c', 'list/d', 'listx']) {
      await request(t.server)
        .put(`/v1/state/${k}`)
        .set(auth())
        .set('If-Match', '0')
        .send({ value: k })
        .expect(200);
    }
    await request(t.server).delete('/v1/state/list/b').set(auth()).set('If-Match', '2').expect(412);
    const del = await request(t.server).delete('/v1/state/list/b').set(auth()).expect(200);
    expect(del.body).toEqual({ key: 'list/b', version: 2, deleted: true });
    await request(t.server).get('/v1/state/list/b').set(auth()).expect(404);
    await request(t.server).delete('/v1/state/list/b').set(auth()).expect(404);

    const first = await request(t.server)
      .get('/v1/state?prefix=list/&limit=2')
      .set(auth())
      .expect(200);
    expect(first.body.items.map((i: { key: string }) => i.key)).toEqual(['list/a', 'list/c']);
    const second = await request(t.server)
      .get(`/v1/state?prefix=list/&limit=2&cursor=${first.body.nextCursor as string}`)
      .set(auth())
      .expect(200);
    expect(second.body.items.map((i: { key: string }) => i.key)).toEqual(['list/d']);
    expect(second.body.nextCursor).toBeNull();

    const again = await request(t.server)
      .put('/v1/state/list/b')
      .set(auth())
      .set('If-None-Match', '*')
      .send({ value: 'again' })
      .expect(200);
    expect(again.body.version).toBe(3);
  });

  it('writes each version through to S3 with version and fencing token in the metadata', async () => {
    const res = await request(t.server)
      .put('/v1/state/project/gamma')
      .set(auth())
      .set('If-Match', '0')
      .send({ value: { hello: 'world' } })
      .expect(200);
    expect(res.headers['x-state-stored']).toBe('true');
    const meta = await objectMeta('project/gamma');
    expect(meta).toMatchObject({ version: '1', deleted: '0' });
    expect(Number(meta?.fence)).toBeGreaterThan(0);
    const body = await objectBody(`${s3Prefix}state/project/gamma.json`);
    expect(body).toMatchObject({ key: 'project/gamma', version: 1, value: { hello: 'world' } });
  });

  it('keeps accepting writes while S3 is down (degraded), then uploads everything pending', async () => {
    await s3.stop();
    const res = await request(t.server)
      .patch('/v1/state/project/gamma')
      .set(auth())
      .send({ during: 'outage' })
      .expect(200);
    expect(res.headers['x-state-stored']).toBe('false');
    await request(t.server)
      .put('/v1/state/outage/new')
      .set(auth())
      .set('If-Match', '0')
      .send({ value: 1 })
      .expect(200);
    const ready = await request(t.server).get('/health/ready').expect(200);
    expect(ready.body.checks['state-store']).toMatchObject({ status: 'degraded', backend: 's3' });
    expect(ready.body.checks['state-store'].pending).toBeGreaterThanOrEqual(2);

    await s3.start();
    await eventually(async () => {
      expect(await objectMeta('project/gamma')).toMatchObject({ version: '2' });
      expect(await objectMeta('outage/new')).toMatchObject({ version: '1' });
    });
    await eventually(async () => {
      const after = await request(t.server).get('/health/ready').expect(200);
      expect(after.body.checks['state-store']).toMatchObject({ status: 'up', pending: 0 });
    });
  });

  it('S3 stopped in the middle of saves, then restarted: every save completes, S3 converges', async () => {
    const keys = ['midsave/a', 'midsave/b', 'midsave/c'];
    const saves = Array.from({ length: 60 }, (_, i) =>
      request(t.server)
        .patch(`/v1/state/${keys[i % keys.length]}`)
        .set(auth())
        .send({ [`n${i}`]: i }),
    );
    const outage = (async () => {
      await new Promise((r) => setTimeout(r, 15));
      await s3.stop();
      await new Promise((r) => setTimeout(r, 300));
      await s3.start();
    })();
    const results = await Promise.all(saves);
    await outage;
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    for (const key of keys) {
      const doc = await request(t.server).get(`/v1/state/${key}`).set(auth()).expect(200);
      expect(Object.keys(doc.body.value)).toHaveLength(20);
      await eventually(async () => {
        expect(await objectMeta(key)).toMatchObject({ version: String(doc.body.version) });
      });
    }
    await eventually(async () => {
      const ready = await request(t.server).get('/health/ready').expect(200);
      expect(ready.body.checks['state-store']).toMatchObject({ status: 'up', pending: 0 });
    });
  });

  it('comes back from S3 after Redis loses everything (read-through, then sync_from_cloud)', async () => {
    await deletePrefix(t.prefix);
    // A read of a key Redis no longer has goes through to S3.
    const back = await request(t.server).get('/v1/state/project/gamma').set(auth()).expect(200);
    expect(back.body).toMatchObject({ version: 2, value: { hello: 'world', during: 'outage' } });
    // A write continues the version history (and the fencing counter was raised past the
    // restored token, so the write is accepted).
    const next = await request(t.server)
      .patch('/v1/state/project/beta')
      .set(auth())
      .send({ after: 'restore' })
      .expect(200);
    expect(next.body).toMatchObject({ version: 3, value: { a: 1, b: 2, after: 'restore' } });
    // The background job notices the lost sync marker and reloads everything (listing included).
    await eventually(async () => {
      const list = await request(t.server).get('/v1/state?prefix=list/').set(auth()).expect(200);
      expect(list.body.items.map((i: { key: string }) => i.key)).toEqual([
        'list/a',
        'list/b',
        'list/c',
        'list/d',
      ]);
    });
    const sync = await request(t.server).post('/v1/state-sync').set(auth()).expect(200);
    expect(sync.body).toMatchObject({ failed: 0, pending: 0 });
    const again = await t.app.get(StateSyncService).syncFromCloud();
    expect(again).toMatchObject({ loaded: 0, uploaded: 0, failed: 0 });
    const deleted = await request(t.server).get('/v1/state/list/b').set(auth()).expect(200);
    expect(deleted.body.version).toBe(3);
  });

  it('uploads a Redis version newer than the one in S3 during sync', async () => {
    const sync = t.app.get(StateSyncService);
    const patched = await request(t.server)
      .patch('/v1/state/project/gamma')
      .set(auth())
      .send({ newer: true })
      .expect(200);
    const version = patched.body.version as number;
    // S3 lags behind (an older copy put back, e.g. restored from a bucket backup).
    await client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: `${s3Prefix}state/project/gamma.json`,
        Body: JSON.stringify({ key: 'project/gamma', version: 1, value: { old: true } }),
        Metadata: { version: '1', fence: '1', deleted: '0' },
      }),
    );
    const report = await sync.syncFromCloud();
    expect(report).toMatchObject({ uploaded: 1, loaded: 0, failed: 0 });
    expect(await objectMeta('project/gamma')).toMatchObject({ version: String(version) });
    const res = await request(t.server).get('/v1/state/project/gamma').set(auth()).expect(200);
    expect(res.body).toMatchObject({ version, value: { newer: true } });
  });

  it('archives workflows as workflows/{id}.json, holding them in Redis while S3 is down', async () => {
    const archive = t.app.get(WorkflowArchiveService);
    await archive.archive('wf-1', { status: 'COMPLETED', tasks: 3 });
    expect(await objectBody(`${s3Prefix}workflows/wf-1.json`)).toMatchObject({
      workflowId: 'wf-1',
      record: { status: 'COMPLETED', tasks: 3 },
    });
    await s3.stop();
    await archive.archive('wf-2', { status: 'COMPLETED' });
    await s3.start();
    await eventually(async () => {
      expect(await archive.read('wf-2')).toEqual({ status: 'COMPLETED' });
    });
    await expect(archive.archive('../escape', {})).rejects.toThrow(/Invalid workflow id/);
  });

  it('backs up and restores through the CLI (admin only)', async () => {
    await request(t.server).get('/v1/state-backup').expect(401);
    await request(t.server).get('/v1/state-backup').set(auth(OPERATOR)).expect(403);
    await request(t.server).post('/v1/state-restore').set(auth(OPERATOR)).send({}).expect(403);
    await request(t.server).get('/v1/state/project/gamma').set(auth(OPERATOR)).expect(200);

    await t.app.listen(0, '127.0.0.1');
    const address = t.app.getHttpServer().address() as { port: number };
    const url = `http://127.0.0.1:${address.port}`;
    const dir = mkdtempSync(join(tmpdir(), 'sy-state-backup-'));
    const file = join(dir, 'backup.json');
    const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const outSpy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      process.exitCode = undefined;
      await run([
        'node',
        'switchyard',
        'state',
        'backup',
        '--out',
        file,
        '--url',
        url,
        '--token',
        ADMIN,
      ]);
      expect(process.exitCode).toBeUndefined();
      const backup = JSON.parse(readFileSync(file, 'utf8'));
      expect(backup.format).toBe('switchyard-state-backup');
      const gamma = backup.documents.find((d: { key: string }) => d.key === 'project/gamma');
      expect(gamma.value).toMatchObject({ hello: 'world' });

      // Damage the state, then restore the snapshot.
      await request(t.server)
        .patch('/v1/state/project/gamma')
        .set(auth())
        .send({ hello: 'broken' })
        .expect(200);
      await request(t.server).delete('/v1/state/list/a').set(auth()).expect(200);
      await run(['node', 'switchyard', 'state', 'restore', file, '--url', url, '--token', ADMIN]);
      expect(process.exitCode).toBeUndefined();
      const restored = await request(t.server)
        .get('/v1/state/project/gamma')
        .set(auth())
        .expect(200);
      expect(restored.body.value).toEqual(gamma.value);
      expect(restored.body.version).toBeGreaterThan(gamma.version);
      await request(t.server).get('/v1/state/list/a').set(auth()).expect(200);

      await run([
        'node',
        'switchyard',
        'state',
        'restore',
        file,
        '--url',
        url,
        '--token',
        OPERATOR,
      ]);
      expect(process.exitCode).toBe(5);
    } finally {
      process.exitCode = undefined;
      errSpy.mockRestore();
      outSpy.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
