import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Api,
  Cluster,
  CompletionWatch,
  type ControlPlane,
  ensureBuilt,
  ROOT,
  sleep,
} from '../../support/processes';

// Real processes on the shared Redis and RabbitMQ of a busy 2-core machine.
jest.setTimeout(150_000);

const WORKFLOW = JSON.parse(
  readFileSync(join(ROOT, 'examples', 'workflows', 'review-and-document.json'), 'utf8'),
) as { name: string; tasks: { ref: string; payload: Record<string, unknown> }[] };
const EXAMPLE_AGENTS = join(ROOT, 'examples', 'agents');
const DAG_SIZE = 100;

interface TaskView {
  id: string;
  ref: string;
  status: string;
  attempt: number;
  dependsOn: string[];
  startedAt: string;
  completedAt: string;
  result: unknown;
  agentId: string;
}

/** A deterministic pseudo-random generator (mulberry32), so a failing DAG can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random DAG of `n` echo tasks: t0 fans out to many, each task depends on up to 3 earlier
 * ones, and the last one fans in from 10.
 */
function randomDag(n: number, seed: number) {
  const next = rng(seed);
  const pick = (below: number) => Math.floor(next() * below);
  return Array.from({ length: n }, (_, i) => {
    const deps = new Set<number>();
    if (i > 0 && i < n - 1) {
      if (next() < 0.3) deps.add(0); // fan-out from the root
      const k = pick(4);
      for (let j = 0; j < k; j++) deps.add(pick(i));
    } else if (i === n - 1) {
      while (deps.size < 10) deps.add(pick(i)); // fan-in
    }
    return {
      ref: `t${i}`,
      capability: 'echo',
      payload: { i },
      dependsOn: [...deps].map((d) => `t${d}`),
      timeoutMs: 60_000,
    };
  });
}

/**
 * Two control-plane instances and three worker processes hosting examples/agents run the
 * example workflow (submitted to one instance, followed on the other) and a 100-task random DAG.
 */
describe('2 control planes + 3 workers run workflows (e2e, real processes)', () => {
  const cluster = new Cluster('wf');
  let cp1: ControlPlane;
  let cp2: ControlPlane;
  let api1: Api;
  let api2: Api;
  let workDir: string;
  let watch: CompletionWatch | undefined;
  let completedSoFar = 0;

  beforeAll(async () => {
    // The workers' directory: a copy of the review fixture (a small project with a src/).
    workDir = mkdtempSync(join(tmpdir(), 'sy-e2e-wf-'));
    cpSync(join(ROOT, 'test', 'fixtures', 'review-sample'), workDir, { recursive: true });
    await ensureBuilt();
    [cp1, cp2] = await Promise.all([
      cluster.startControlPlane('cp1'),
      cluster.startControlPlane('cp2'),
    ]);
    api1 = new Api(cp1.url);
    api2 = new Api(cp2.url);
    const names = ['code-reviewer', 'doc-writer', 'echo'];
    await Promise.all(
      ['w1', 'w2', 'w3'].map((w) =>
        cluster.startWorker(w, EXAMPLE_AGENTS, names, api1, {}, workDir),
      ),
    );
    watch = await CompletionWatch.open(cp1.url);
  });

  afterAll(async () => {
    watch?.close();
    await cluster.destroy();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  async function waitWorkflow(api: Api, id: string, timeoutMs: number) {
    return cluster.waitFor(
      async () => {
        const r = await api.get(`/v1/workflows/${id}`);
        return r.body.workflow?.status !== 'RUNNING' ? r.body : undefined;
      },
      timeoutMs,
      `workflow ${id} to finish`,
      300,
      (last) => JSON.stringify((last as { workflow?: unknown })?.workflow ?? last),
    );
  }

  /** Every task completed exactly once: one task.completed each, and the two counters agree. */
  async function expectCompletedOnce(ids: string[]) {
    completedSoFar += ids.length;
    await cluster.waitFor(
      async () => ids.every((id) => watch!.counts().has(id)),
      10_000,
      'a task.completed event for every task',
    );
    await sleep(500);
    expect(watch!.dropped()).toBe(0);
    const counts = watch!.counts();
    const notOnce = ids.filter((id) => counts.get(id) !== 1).map((id) => [id, counts.get(id)]);
    expect(notOnce).toEqual([]);
    const total = (await api1.tasksTotal('COMPLETED')) + (await api2.tasksTotal('COMPLETED'));
    expect(total).toBe(completedSoFar);
  }

  it('runs examples/workflows/review-and-document.json: submitted to cp1, followed on cp2', async () => {
    const created = await api1.submit('/v1/workflows', WORKFLOW);
    const { workflow, tasks } = await waitWorkflow(api2, created.workflow.id, 90_000);
    expect(workflow).toMatchObject({ status: 'COMPLETED', total: 2, completed: 2, failed: 0 });
    const byRef = new Map((tasks as TaskView[]).map((t) => [t.ref, t]));
    const review = byRef.get('review')!;
    const docs = byRef.get('docs')!;
    expect(review).toMatchObject({
      status: 'COMPLETED',
      agentId: expect.stringMatching(/^code-reviewer@w[123]$/),
    });
    expect(docs).toMatchObject({
      status: 'COMPLETED',
      agentId: expect.stringMatching(/^doc-writer@w[123]$/),
      result: expect.objectContaining({ reportPath: 'reports/review-and-document.md' }),
    });
    expect(Date.parse(review.completedAt)).toBeLessThanOrEqual(Date.parse(docs.startedAt));
    expect(review.result).toMatchObject({
      findings: expect.arrayContaining([
        expect.objectContaining({ file: 'src/nested/long.ts', rule: 'long-function' }),
      ]),
    });

    const md = readFileSync(join(workDir, 'reports', 'review-and-document.md'), 'utf8');
    expect(md).toContain('# API overview and code review: src');
    expect(md).toContain('- **add** (function, line 2) — Adds two numbers.');
    expect(md).toContain('src/nested/long.ts');
    // The reviewer fanned the review out per module (delegated children): each ran once too.
    const tree = (await api2.get(`/v1/tasks/${review.id}/tree`)).body as {
      children: { id: string; status: string; capability: string }[];
    };
    expect(tree.children.length).toBeGreaterThan(0);
    for (const c of tree.children)
      expect(c).toMatchObject({ status: 'COMPLETED', capability: 'code-review' });
    await expectCompletedOnce([review.id, docs.id, ...tree.children.map((c) => c.id)]);
  });

  it('runs a 100-task random DAG submitted to cp2: all complete, in dependency order, once', async () => {
    const seed = Date.now() % 100_000;
    const spec = randomDag(DAG_SIZE, seed);
    const created = await api2.submit('/v1/workflows', { name: `dag-${seed}`, tasks: spec });
    expect(created.tasks).toHaveLength(DAG_SIZE);
    const { workflow, tasks } = await waitWorkflow(api1, created.workflow.id, 90_000);
    const why = `seed ${seed}`;
    expect([why, workflow]).toEqual([
      why,
      expect.objectContaining({ status: 'COMPLETED', total: DAG_SIZE, completed: DAG_SIZE }),
    ]);

    const all = tasks as TaskView[];
    expect(all).toHaveLength(DAG_SIZE);
    const byId = new Map(all.map((t) => [t.id, t]));
    const byRef = new Map(all.map((t) => [t.ref, t]));
    const problems: string[] = [];
    for (const [i, s] of spec.entries()) {
      const t = byRef.get(s.ref)!;
      if (t.status !== 'COMPLETED') problems.push(`${t.ref} is ${t.status}`);
      if (JSON.stringify(t.result) !== JSON.stringify({ i }))
        problems.push(`${t.ref} result ${JSON.stringify(t.result)}`);
      if (!/^echo@w[123]$/.test(t.agentId)) problems.push(`${t.ref} ran on ${t.agentId}`);
      expect(t.dependsOn.map((d) => byId.get(d)!.ref).sort()).toEqual([...s.dependsOn].sort());
      for (const d of t.dependsOn) {
        const dep = byId.get(d)!;
        if (Date.parse(dep.completedAt) > Date.parse(t.startedAt)) {
          problems.push(
            `${t.ref} started ${t.startedAt} before ${dep.ref} completed ${dep.completedAt}`,
          );
        }
      }
    }
    expect([why, problems]).toEqual([why, []]);
    // The three workers shared the work.
    const workers = new Set(all.map((t) => t.agentId));
    expect(workers.size).toBeGreaterThanOrEqual(2);
    await expectCompletedOnce(all.map((t) => t.id));
  });
});
