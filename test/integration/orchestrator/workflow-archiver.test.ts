import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { WorkflowArchiveService } from '../../../src/state/workflow-archive.service';
import { deletePrefix } from '../../support/redis-cleanup';
import { auth, startTestApp, type TestApp } from '../../support/test-app';

describe('finished-workflow archive', () => {
  let t: TestApp;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sy-archive-'));
    t = await startTestApp({
      ORCHESTRATOR_ENABLED: 'false',
      STATE_STORE: 'local',
      STATE_LOCAL_DIR: dir,
    });
  });
  afterAll(async () => {
    await t.close();
    await deletePrefix(t.prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores every task of a workflow with more than 1,000 tasks', async () => {
    const tasks = Array.from({ length: 1200 }, (_, i) => ({
      ref: `t${i}`,
      capability: 'nobody-serves-this',
    }));
    const res = await request(t.server)
      .post('/v1/workflows')
      .set(auth())
      .send({ name: 'big', tasks })
      .expect(201);
    const id = res.body.workflow.id as string;
    await request(t.server).post(`/v1/workflows/${id}/cancel`).set(auth()).expect(200);
    const archive = t.app.get(WorkflowArchiveService);
    const deadline = Date.now() + 20_000;
    let record: { tasks: { id: string }[]; workflow: { status: string } } | undefined;
    while (Date.now() < deadline) {
      record = (await archive.read(id)) as typeof record;
      if (record) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(record?.workflow.status).toBe('CANCELLED');
    expect(record?.tasks).toHaveLength(1200);
    expect(new Set(record?.tasks.map((x) => x.id)).size).toBe(1200);
  });
});
