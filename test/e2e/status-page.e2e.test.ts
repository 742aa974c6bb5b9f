import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import request from 'supertest';
import { EventsService } from '../../src/events/events.service';
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
const haveChromium = existsSync(CHROMIUM);

describe('status page in headless Chromium (e2e)', () => {
  let t: TestApp;
  let url: string;
  let browser: Browser | undefined;
  let page: Page | undefined;

  beforeAll(async () => {
    t = await startTestApp({ ORCHESTRATOR_ENABLED: 'false' });
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.server.address() as { port: number }).port}`;
    if (!haveChromium) {
      // .ci/run installs Debian's chromium; without it this file checks only the HTTP side.
      console.warn(`status page browser test skipped: chromium not installed at ${CHROMIUM}`);
      return;
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t.close();
    await deletePrefix(t.prefix);
  });

  it('serves the page and its files without a token, with a strict CSP', async () => {
    const index = await request(t.server).get('/').expect(200);
    expect(index.headers['content-type']).toContain('text/html');
    expect(index.headers['content-security-policy']).toContain("connect-src 'self' ws: wss:");
    expect(index.text).toContain('/status-page/app.js');
    await request(t.server)
      .get('/status-page/app.js')
      .expect(200)
      .expect('content-type', /javascript/);
    await request(t.server).get('/status-page/style.css').expect(200);
    await request(t.server).get('/status-page/secrets.txt').expect(404);
    await request(t.server).get('/status-page/..%2Fpackage.json').expect(404);
  });

  it('asks for a token, shows agents, queue and breakers, and updates on live events', async () => {
    if (!page) {
      console.warn('skipped: chromium not installed (apt-get install -y chromium)');
      return;
    }
    await request(t.server)
      .post('/v1/agents')
      .set(auth())
      .send({ id: 'page-agent', capabilities: ['docs', 'review'], maxLoad: 3 })
      .expect((r) => expect(r.status).toBeLessThan(300));

    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${url}/`);
    await page.locator('#token-input').fill(ADMIN_TOKEN);
    await page.locator('#login button[type=submit]').click();

    const agentRow = page.locator('#agents tbody tr[data-agent-id="page-agent"]');
    await agentRow.waitFor({ timeout: 10_000 });
    expect(await agentRow.innerText()).toMatch(
      /page-agent\s+AVAILABLE\s+0\/3\s+1\.00\s+docs, review/,
    );
    await page.locator('#queue dd[data-count="ready"]').waitFor({ timeout: 10_000 });
    await page.locator('#feed-state', { hasText: 'live' }).waitFor({ timeout: 10_000 });

    // A task completing somewhere shows up in the event list.
    t.app.get(EventsService).emit('task.completed', {
      taskId: 'page-task-1',
      workflowId: 'page-wf',
      agentId: 'page-agent',
      data: { durationMs: 12 },
    });
    const item = page.locator('#events li[data-task-id="page-task-1"]');
    await item.waitFor({ timeout: 10_000 });
    expect(await item.innerText()).toContain('task.completed');
    expect(await item.getAttribute('data-type')).toBe('task.completed');

    // The token survives a reload (localStorage), and the page reconnects.
    await page.reload();
    await page.locator('#feed-state', { hasText: 'live' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#login').isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
