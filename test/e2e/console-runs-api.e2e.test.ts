import Redis from 'ioredis';
import request from 'supertest';
import { TaskQueueService } from '../../src/queue/task-queue.service';
import { deletePrefix } from '../support/redis-cleanup';
import { auth, startTestApp, type TestApp } from '../support/test-app';

interface RunPage {
  items: { id: string; kind: string; name?: string; status: string }[];
  nextCursor: string | null;
}

/** GET /v1/workflows, the runs list behind the console: index order, scan budget, retention. */
describe('runs list API (e2e, real Redis)', () => {
  let t: TestApp;
  let queue: TaskQueueService;
  let redis: Redis;
  const workflows: string[] = [];
  const runs = (query: string) =>
    request(t.server)
      .get(`/v1/workflows?${query}`)
      .set(auth())
      .expect(200)
      .then((r) => r.body as RunPage);

  /** Every row of a query, following the cursors (a rare filter may return empty pages first). */
  const all = async (query: string) => {
    const out: RunPage['items'] = [];
    let cursor: string | null = null;
    do {
      const page: RunPage = await runs(
        `${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      out.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  };

  beforeAll(async () => {
    t = await startTestApp({ ORCHESTRATOR_ENABLED: 'false' });
    queue = t.app.get(TaskQueueService);
    redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    // 2 workflows, then 6,000 standalone tasks, then 2 more workflows (newest).
    for (const name of ['wf-0', 'wf-1']) {
      const r = await queue.submitWorkflow({ name, tasks: [{ ref: 'a', capability: 'x' }] });
      workflows.push(r.workflow.id);
    }
    await queue.enqueueMany(
      Array.from({ length: 6000 }, (_, i) => ({ capability: 'bulk', description: `bulk ${i}` })),
    );
    for (const name of ['wf-2', 'wf-3']) {
      const r = await queue.submitWorkflow({ name, tasks: [{ ref: 'a', capability: 'x' }] });
      workflows.push(r.workflow.id);
    }
  }, 60_000);

  afterAll(async () => {
    redis.disconnect();
    await t.close();
    await deletePrefix(t.prefix);
  });

  it('pages newest first with a cursor, mixing kinds, without repeats', async () => {
    const seen = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: RunPage = await runs(
        `kind=all&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      for (const r of page.items) {
        expect(seen.has(r.id)).toBe(false);
        seen.add(r.id);
      }
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(seen.size).toBe(6004);
    expect(pages).toBe(7);
    const first = await runs('kind=all&limit=3');
    expect(first.items.map((r) => r.id).slice(0, 2)).toEqual([workflows[3], workflows[2]]);
    expect(first.items[2]).toMatchObject({ kind: 'task', name: 'bulk 5999', status: 'READY' });
  });

  it('a filter that matches rarely stops at its scan budget and hands back a cursor', async () => {
    const p1 = await runs('kind=workflow&limit=10');
    // The two newest workflows, then 6,000 tasks to skip: more than the budget (5,000).
    expect(p1.items.map((r) => r.name)).toEqual(['wf-3', 'wf-2']);
    expect(p1.nextCursor).not.toBeNull();
    const p2 = await runs(`kind=workflow&limit=10&cursor=${encodeURIComponent(p1.nextCursor!)}`);
    expect(p2.items.map((r) => r.name)).toEqual(['wf-1', 'wf-0']);
    expect(p2.nextCursor).toBeNull();
  });

  it('filters by text, time and status (any case), and refuses bad input with 400', async () => {
    expect((await all('q=WF-1')).map((r) => r.name)).toEqual(['wf-1']);
    expect((await all('kind=task&q=bulk 420&limit=100')).map((r) => r.name)).toEqual([
      'bulk 4209',
      'bulk 4208',
      'bulk 4207',
      'bulk 4206',
      'bulk 4205',
      'bulk 4204',
      'bulk 4203',
      'bulk 4202',
      'bulk 4201',
      'bulk 4200',
      'bulk 420',
    ]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await runs(`since=${encodeURIComponent(future)}`)).items).toEqual([]);
    expect((await runs('status=running&limit=5')).items.map((r) => r.name)).toEqual([
      'wf-3',
      'wf-2',
    ]);
    for (const bad of ['since=yesterday', 'kind=jobs', 'cursor=%21%21', 'limit=0', 'colour=red']) {
      const r = await request(t.server).get(`/v1/workflows?${bad}`).set(auth()).expect(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('drops runs whose records retention removed from the index when it meets them', async () => {
    const gone = workflows[3];
    await redis.del(`${queue.base}w:${gone}`);
    const page = await runs('kind=all&limit=2');
    expect(page.items.map((r) => r.id)).toEqual([workflows[2], page.items[1].id]);
    expect(page.items[1].name).toBe('bulk 5999');
    expect(await redis.zscore(`${queue.base}runs`, `w:${gone}`)).toBeNull();
  });
});
