import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import request from 'supertest';
import { EventsService } from '../../src/events/events.service';
import { EmbeddedWorkerModule } from '../../src/worker/embedded-worker.module';
import { deletePrefix } from '../support/redis-cleanup';
import { ADMIN_TOKEN, auth, startTestApp, type TestApp } from '../support/test-app';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const AGENTS = join(__dirname, '..', 'fixtures', 'embedded-agents');
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts', 'console');
const VIEWER_TOKEN = 'console-viewer-token-0123456789';
const haveChromium = existsSync(CHROMIUM);

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('console in headless Chromium (e2e)', () => {
  let t: TestApp;
  let url: string;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  const socketUrls: string[] = [];
  /** A task that ended FAILED with a handler_error (the failer agent's breaker is open after it). */
  let failedTaskId = '';

  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });

  beforeAll(async () => {
    t = await startTestApp(
      {
        // One failure opens the flaky agent's breaker, so the Agents page has one to show.
        BREAKER_FAILURE_THRESHOLD: '1',
        ORCHESTRATOR_NO_AGENT_RETRY_MS: '50',
        ORCHESTRATOR_CANDIDATE_CACHE_MS: '0',
        WORKER_ID: 'embedded',
        SWITCHYARD_API_KEYS: JSON.stringify([
          {
            name: 'console-viewer',
            role: 'viewer',
            sha256: createHash('sha256').update(VIEWER_TOKEN).digest('hex'),
          },
        ]),
      },
      [EmbeddedWorkerModule.forAgents(AGENTS)],
    );
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.server.address() as { port: number }).port}`;
    if (!haveChromium) {
      console.warn(`console browser tests SKIPPED: chromium not installed at ${CHROMIUM}`);
      return;
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('websocket', (ws) => socketUrls.push(ws.url()));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t.close();
    await deletePrefix(t.prefix);
  });

  it('serves the console, its modules and the layout library without a token, with a strict CSP', async () => {
    const index = await request(t.server).get('/').expect(200);
    expect(index.headers['content-type']).toContain('text/html');
    expect(index.headers['content-security-policy']).toContain("script-src 'self';");
    expect(index.headers['content-security-policy']).toContain("default-src 'none'");
    expect(index.text).toContain('<script type="module" src="/status-page/app.js">');
    for (const f of ['app.js', 'runs.js', 'run.js', 'task.js', 'agents.js', 'live.js', 'dagre.js'])
      await request(t.server)
        .get(`/status-page/${f}`)
        .expect(200)
        .expect('content-type', /javascript/);
    const dagre = await request(t.server).get('/status-page/dagre.js');
    expect(dagre.text).toContain('export{');
    await request(t.server).get('/status-page/style.css').expect(200);
    await request(t.server).get('/status-page/secrets.txt').expect(404);
    await request(t.server).get('/status-page/index.html').expect(404);
    await request(t.server).get('/status-page/..%2Fpackage.json').expect(404);
  });

  it('lists runs: GET /v1/workflows newest first, kinds, filters, cursor', async () => {
    const wf = (name: string) =>
      request(t.server)
        .post('/v1/workflows')
        .set(auth())
        .send({ name, tasks: [{ ref: 'a', capability: 'echo', payload: { name } }] })
        .expect(201)
        .then((r) => (r.body as { workflow: { id: string } }).workflow.id);
    const first = await wf('list-one');
    const solo = await request(t.server)
      .post('/v1/tasks')
      .set(auth())
      .send({ capability: 'echo', description: 'solo-task' })
      .expect(201)
      .then((r) => (r.body as { id: string }).id);
    const second = await wf('list-two');
    const all = await request(t.server)
      .get('/v1/workflows?kind=all&limit=2')
      .set(auth())
      .expect(200);
    expect(all.body.items.map((r: { id: string }) => r.id)).toEqual([second, solo]);
    expect(all.body.nextCursor).toEqual(expect.any(String));
    const next = await request(t.server)
      .get(`/v1/workflows?kind=all&limit=2&cursor=${all.body.nextCursor}`)
      .set(auth())
      .expect(200);
    expect(next.body.items.map((r: { id: string }) => r.id)).toEqual([first]);
    const wfs = await request(t.server).get('/v1/workflows?q=list-').set(auth()).expect(200);
    expect(wfs.body.items.map((r: { id: string }) => r.id)).toEqual([second, first]);
    expect(wfs.body.items[0]).toMatchObject({
      kind: 'workflow',
      name: 'list-two',
      counts: { total: 1 },
    });
    const bad = await request(t.server).get('/v1/workflows?status=nope').set(auth()).expect(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    await request(t.server).get('/v1/workflows?status=running').set(auth()).expect(200);
  });

  it('shows a failed run, its failed node and error, retries it from the page and sees it complete', async () => {
    if (!browser)
      return console.warn('SKIPPED: chromium not installed (apt-get install -y chromium)');
    const res = await request(t.server)
      .post('/v1/workflows')
      .set(auth())
      .send({
        name: 'console-e2e',
        tasks: [
          { ref: 'fetch', capability: 'echo', payload: { url: 'https://example.com' } },
          {
            ref: 'flaky-step',
            capability: 'flaky',
            payload: { failTimes: 1 },
            dependsOn: ['fetch'],
            retry: { maxRetries: 0 },
          },
          { ref: 'report', capability: 'echo', dependsOn: ['flaky-step'] },
        ],
      })
      .expect(201);
    const wfId = res.body.workflow.id as string;
    const ids = Object.fromEntries(
      (res.body.tasks as { ref: string; id: string }[]).map((x) => [x.ref, x.id]),
    );
    const workflow = () =>
      request(t.server)
        .get(`/v1/workflows/${wfId}`)
        .set(auth())
        .then((r) => r.body as { workflow: { status: string } });
    await until('the workflow to fail', async () =>
      (await workflow()).workflow.status === 'FAILED' ? true : undefined,
    );

    // Sign in; the live feed is authenticated by its first message, not the URL.
    await page.goto(`${url}/`);
    await page.locator('#token-input').fill(ADMIN_TOKEN);
    await page.locator('#login button[type=submit]').click();
    await page.locator('#feed-state', { hasText: 'live' }).waitFor({ timeout: 10_000 });
    expect(socketUrls.length).toBeGreaterThan(0);
    for (const u of socketUrls) expect(u).not.toMatch(/token/i);

    // Runs: the failed workflow is listed.
    const runRow = page.locator(`#runs-table tr[data-run-id="${wfId}"]`);
    await runRow.waitFor({ timeout: 10_000 });
    expect(await runRow.getAttribute('data-status')).toBe('FAILED');
    expect(await runRow.innerText()).toContain('console-e2e');
    await shot('runs.png');

    // Run: the DAG with the failed node (and its failed dependent).
    await runRow.locator('a').first().click();
    const failedNode = page.locator(`#dag a.node[data-task-id="${ids['flaky-step']}"]`);
    await failedNode.waitFor({ timeout: 10_000 });
    expect(await failedNode.getAttribute('data-status')).toBe('FAILED');
    expect(
      await page.locator(`#dag a.node[data-task-id="${ids.fetch}"]`).getAttribute('data-status'),
    ).toBe('COMPLETED');
    expect(await page.locator('#dag path.edge').count()).toBe(2);
    expect(await page.locator('#gantt rect.seg').count()).toBeGreaterThanOrEqual(3);
    await shot('run.png');

    // Task: its error, with type and retry verdict.
    await failedNode.click();
    const error = page.locator('#task-error');
    await error.waitFor({ timeout: 10_000 });
    expect(await error.locator('.error-type').innerText()).toBe('upstream_error');
    expect(await error.locator('.error-message').innerText()).toContain('flaky failure 1/1');
    expect(await error.innerText()).toContain('dead-letter');
    expect(await page.locator('#task').innerText()).toContain('failTimes');
    await shot('task-failed.png');

    // Agents: the flaky agent's breaker opened, so it is not shown as plain AVAILABLE. Reset it.
    await page.goto(`${url}/#/agents`);
    const flakyRow = page.locator('#agents tr[data-agent-id="flaky@embedded"]');
    await flakyRow.waitFor({ timeout: 10_000 });
    await until('the breaker to show as open', async () =>
      (await flakyRow.getAttribute('data-status')) === 'BREAKER_OPEN' ? true : undefined,
    );
    expect(await flakyRow.innerText()).toContain('BREAKER OPEN');
    await page.locator('#queue dd[data-count="failed"]').waitFor();
    await shot('agents.png');
    await page.locator('#breakers tr[data-agent-id="flaky@embedded"] button.reset-breaker').click();
    await page.locator('#confirm-yes').click();
    await page.locator('#toast', { hasText: 'Reset breaker: done' }).waitFor({ timeout: 10_000 });
    await until('the agent row to show AVAILABLE', async () =>
      (await flakyRow.getAttribute('data-status')) === 'AVAILABLE' ? true : undefined,
    );

    // Retry from the task page: confirm, requeue, and watch it complete live.
    await page.goto(`${url}/#/task/${ids['flaky-step']}`);
    await page.locator('#retry-task').click();
    expect(await page.locator('#confirm-text').innerText()).toContain('requeue');
    await page.locator('#confirm-yes').click();
    await page.locator('#toast', { hasText: 'Retry task: done' }).waitFor({ timeout: 10_000 });
    await page.locator('#task[data-status="COMPLETED"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('#task').innerText()).toContain('"calls": 2');
    await shot('task-completed.png');

    await until('the workflow to complete', async () =>
      (await workflow()).workflow.status === 'COMPLETED' ? true : undefined,
    );
    await page.goto(`${url}/#/run/${wfId}`);
    await page
      .locator(`#dag a.node[data-task-id="${ids.report}"][data-status="COMPLETED"]`)
      .waitFor({ timeout: 10_000 });
    expect(await page.locator('#dag a.node[data-status="COMPLETED"]').count()).toBe(3);

    // Events: summarised, with the failure in the errors strip.
    await page.goto(`${url}/#/events`);
    const failing = await request(t.server)
      .post('/v1/tasks')
      .set(auth())
      .send({ capability: 'always-fails', payload: { message: 'broken on purpose' } })
      .expect(201);
    const failingId = failing.body.id as string;
    failedTaskId = failingId;
    await page
      .locator(`#events li[data-type="task.failed"][data-task-id="${failingId}"]`)
      .waitFor({ timeout: 10_000 });
    const strip = page.locator('#errors-list li[data-type="task.failed"]').first();
    await strip.waitFor({ timeout: 10_000 });
    await page
      .locator('#errors-list li', { hasText: 'broken on purpose' })
      .waitFor({ timeout: 10_000 });
    t.app.get(EventsService).emit('task.waiting', { taskId: 'collapse-me', data: {} });
    t.app.get(EventsService).emit('task.waiting', { taskId: 'collapse-me', data: {} });
    t.app.get(EventsService).emit('task.waiting', { taskId: 'collapse-me', data: {} });
    const collapsed = page.locator('#events li[data-task-id="collapse-me"]');
    await page
      .locator('#events li[data-task-id="collapse-me"][data-count="3"]')
      .waitFor({ timeout: 10_000 });
    expect(await collapsed.count()).toBe(1);
    await shot('events.png');

    // Phone-sized screen: nothing wider than the viewport but the scrollable tables and graph.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${url}/#/runs`);
    await page.locator('#runs-table').waitFor();
    const overflow = await page.evaluate<number>(
      'document.documentElement.scrollWidth - window.innerWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await shot('runs-phone.png');
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('hides the actions from a viewer token', async () => {
    if (!browser)
      return console.warn('SKIPPED: chromium not installed (apt-get install -y chromium)');
    const id = failedTaskId;
    expect(id).not.toBe('');
    await page.locator('#logout').click();
    await page.locator('#token-input').fill(VIEWER_TOKEN);
    await page.locator('#login button[type=submit]').click();
    await page.locator('#whoami', { hasText: 'viewer' }).waitFor({ timeout: 10_000 });
    await page.goto(`${url}/#/task/${id}`);
    await page.locator('#task-error').waitFor({ timeout: 10_000 });
    expect(await page.locator('#retry-task').count()).toBe(0);
    expect(await page.locator('#task-error').innerText()).toContain('handler_error');
  }, 60_000);

  it('is keyboard-usable and labelled: Tab reaches the skip link first, every control has a label', async () => {
    if (!browser)
      return console.warn('SKIPPED: chromium not installed (apt-get install -y chromium)');
    await page.goto(`${url}/#/runs`);
    await page.reload();
    await page.locator('#runs-table').waitFor({ timeout: 10_000 });
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement.className')).toBe('skip');
    // Every form control has a label (wrapping it, or for= its id).
    const unlabelled = await page.evaluate<number>(
      `[...document.querySelectorAll('input, select')].filter(
        (el) => !el.closest('label') && !document.querySelector('label[for="' + el.id + '"]'),
      ).length`,
    );
    expect(unlabelled).toBe(0);
  });
});
