import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { deletePrefix } from '../../support/redis-cleanup';
import { auth, startTestApp, type TestApp } from '../../support/test-app';

describe('State without S3: the local-directory store (embedded default)', () => {
  let dir: string;
  let t: TestApp;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sy-state-local-'));
    t = await startTestApp({ STATE_LOCAL_DIR: dir });
  });

  afterAll(async () => {
    await t?.close();
    if (t) await deletePrefix(t.prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes documents through to files and reports the store as ready', async () => {
    await request(t.server)
      .put('/v1/state/project/local')
      .set(auth())
      .set('If-Match', '0')
      .send({ value: { a: 1 } })
      .expect(200);
    const file = join(dir, 'state', 'project', 'local.json');
    expect(existsSync(file)).toBe(true);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    expect(stored.metadata).toMatchObject({ version: '1' });
    expect(JSON.parse(stored.body)).toMatchObject({ key: 'project/local', value: { a: 1 } });
    const ready = await request(t.server).get('/health/ready').expect(200);
    expect(ready.body.checks['state-store']).toMatchObject({
      status: 'up',
      backend: 'local',
      pending: 0,
    });
  });

  it('a second instance with an empty Redis loads the documents back at boot', async () => {
    const other = await startTestApp({ STATE_LOCAL_DIR: dir });
    try {
      const res = await request(other.server)
        .get('/v1/state/project/local')
        .set(auth())
        .expect(200);
      expect(res.body).toMatchObject({ version: 1, value: { a: 1 } });
    } finally {
      await other.close();
      await deletePrefix(other.prefix);
    }
  });
});
