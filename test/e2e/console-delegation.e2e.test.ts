import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { TaskProgressStore } from '../../src/orchestrator/task-progress.store';
import { TaskQueueService } from '../../src/queue/task-queue.service';
import type { TaskHandlerOutcome, TaskRecord } from '../../src/queue/task.types';
import { deletePrefix } from '../support/redis-cleanup';
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../support/test-app';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(
    `\n*** console delegation test SKIPPED: chromium not installed at ${CHROMIUM} ***\n`,
  );
}
const describeInBrowser = haveChromium ? describe : describe.skip;

jest.setTimeout(90_000);

/** The console's task page lists the delegation tree with capability, agent, duration and cost. */
describeInBrowser('console: delegated tasks on the task page (e2e, headless Chromium)', () => {
  let t: TestApp;
  let url: string;
  let browser: Browser;
  let page: Page;

  const post = async (path: string, body: unknown): Promise<TaskRecord> => {
    const r = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(r.status).toBe(201);
    return (await r.json()) as TaskRecord;
  };

  beforeAll(async () => {
    t = await startTestApp({ ORCHESTRATOR_ENABLED: 'false' });
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.server.address() as { port: number }).port}`;
    // Stand-in for the orchestrator: `costly` tasks complete on agent reviewer@w1 for $0.25.
    await t.app.get(TaskQueueService).startProcessing(
      async (task: TaskRecord): Promise<TaskHandlerOutcome> => {
        await new Promise((r) => setTimeout(r, 30));
        return {
          kind: 'completed',
          result: { ok: true },
          agentId: 'reviewer@w1',
          cost: { usd: task.capability === 'costly' ? 0.25 : 0, inputTokens: 10, outputTokens: 1 },
        };
      },
      { concurrency: 4 },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t.close();
    await deletePrefix(t.prefix);
  });

  it('shows each child with its status, capability, agent, duration and cost, nested', async () => {
    const root = await post('/v1/tasks', { capability: 'lead', dependsOn: ['never-submitted'] });
    const mid = await post('/v1/tasks', {
      capability: 'middle',
      dependsOn: ['never-submitted'],
      parentTaskId: root.id,
    });
    const leaf = await post('/v1/tasks', { capability: 'costly', parentTaskId: mid.id });
    for (let i = 0; ; i++) {
      const r = await fetch(`${url}/v1/tasks/${leaf.id}`, {
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      if (((await r.json()) as { status: string }).status === 'COMPLETED') break;
      if (i > 200) throw new Error('the leaf did not complete');
      await new Promise((res) => setTimeout(res, 50));
    }

    await page.goto(`${url}/`);
    await page.locator('#token-input').fill(ADMIN_TOKEN);
    await page.locator('#login button[type=submit]').click();
    await page.goto(`${url}/#/task/${root.id}`);
    const tree = page.locator('#task ul.tree');
    await tree.waitFor({ timeout: 15_000 });
    const midItem = tree.locator(`a[href="#/task/${mid.id}"]`);
    await midItem.waitFor();
    const leafItem = tree.locator(`li ul a[href="#/task/${leaf.id}"]`);
    await leafItem.waitFor();
    const midLine = (await midItem.locator('xpath=..').innerText()).split('\n')[0];
    expect(midLine).toBe(`${mid.id} BLOCKED middle · (tree $0.2500)`);
    const leafLine = await leafItem.locator('xpath=..').innerText();
    expect(leafLine).toContain('COMPLETED');
    expect(leafLine).toMatch(/costly · reviewer@w1 · \d+(\.\d)? m?s · \$0\.2500/);
    await post(`/v1/tasks/${root.id}/cancel`, {}).catch(() => undefined);
  });

  it('shows a task’s live transcript (the steps a claude agent streamed)', async () => {
    const task = await post('/v1/tasks', { capability: 'lead', dependsOn: ['never-submitted'] });
    await t.app.get(TaskProgressStore).append(
      task.id,
      0,
      [
        {
          seq: 0,
          at: new Date().toISOString(),
          kind: 'init',
          summary: 'session s-1, model sonnet',
        },
        {
          seq: 1,
          at: new Date().toISOString(),
          kind: 'tool_call',
          summary: 'mcp__switchyard__delegate {capability: review}',
        },
      ],
      3600,
    );
    await page.goto(`${url}/#/task/${task.id}`);
    const steps = page.locator('#task ol.transcript li');
    await steps.first().waitFor({ timeout: 15_000 });
    expect(await steps.count()).toBe(2);
    expect(await steps.nth(1).innerText()).toContain(
      'tool_call mcp__switchyard__delegate {capability: review}',
    );
    await post(`/v1/tasks/${task.id}/cancel`, {}).catch(() => undefined);
  });

  it('lists every recorded attempt of a task (agent, worker, start, end, outcome)', async () => {
    const task = await post('/v1/tasks', { capability: 'costly' });
    for (let i = 0; ; i++) {
      const r = await fetch(`${url}/v1/tasks/${task.id}`, {
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      if (((await r.json()) as { status: string }).status === 'COMPLETED') break;
      if (i > 200) throw new Error('the task did not complete');
      await new Promise((res) => setTimeout(res, 50));
    }
    await page.goto(`${url}/#/task/${task.id}`);
    const rows = page.locator('#attempts tbody tr');
    await rows.first().waitFor({ timeout: 15_000 });
    const first = await rows.first().innerText();
    expect(first).toContain('reviewer@w1');
    expect(first).toContain('w1');
    expect(first).toContain('completed');
  });
});
