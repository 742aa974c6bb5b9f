import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api, Cluster, ensureBuilt } from '../support/processes';

jest.setTimeout(120_000);

const ROOT = join(__dirname, '..', '..');
const FAKE_CLAUDE = join(ROOT, 'test', 'fixtures', 'fake-claude', 'claude');

/**
 * A claude run whose stream goes quiet is killed after CLAUDE_STALL_SECONDS and fails `stalled`
 * (an infrastructure loss: no retry spent); the next attempt resumes the same session
 * (`--resume`) and completes. Real control plane and worker processes, the fake claude.
 */
describe('a stalled claude run is killed and resumed (e2e, real processes)', () => {
  const cluster = new Cluster('resume');
  let dir: string;

  beforeAll(async () => {
    await ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sy-resume-'));
    writeFileSync(
      join(dir, 'thinker.md'),
      '---\nname: thinker\ndescription: A Claude agent that stalls once.\nexecutor: claude\ncapabilities: [think]\ntools: Read\n---\nThink.\n',
    );
  });
  afterAll(async () => {
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stalls, is killed, and the next attempt resumes the session and completes', async () => {
    const cp = await cluster.startControlPlane('cp1');
    const api = new Api(cp.url);
    await cluster.startWorker('wr', dir, ['thinker'], api, {
      CLAUDE_BIN: FAKE_CLAUDE,
      CLAUDE_STALL_SECONDS: '1',
      FAKE_CLAUDE_MODE: 'stall',
      FAKE_CLAUDE_STALL_UNLESS_RESUMED: '1',
      WORKER_PASS_ENV: 'FAKE_CLAUDE_*',
    });
    const task = await api.submit('/v1/tasks', {
      capability: 'think',
      payload: { prompt: 'think hard' },
      retry: { maxRetries: 0 },
      timeoutMs: 60_000,
    });
    const done = await cluster.waitFor(
      async () => {
        const t = (await api.get(`/v1/tasks/${task.id}`)).body as {
          status: string;
          attempt: number;
          result?: { resumed?: boolean; sessionId?: string };
        };
        return ['COMPLETED', 'FAILED', 'CANCELLED'].includes(t.status) ? t : undefined;
      },
      60_000,
      'the task to end',
      200,
    );
    // maxRetries 0, yet it completed on attempt 1: the stall did not spend a retry.
    expect(done).toMatchObject({ status: 'COMPLETED', attempt: 1 });
    expect(done.result).toMatchObject({ resumed: true });
  });
});

/**
 * A usage limit (429 result, no reset in the text → CLAUDE_RATE_LIMIT_BACKOFF_SECONDS) does not
 * burn the task's retries: the task waits, the agent reports itself unavailable until then, and
 * the task completes after the reset on the same attempt.
 */
describe('a usage-limited claude run waits for the reset (e2e, real processes)', () => {
  const cluster = new Cluster('ratelimit');
  let dir: string;

  beforeAll(async () => {
    await ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sy-ratelimit-'));
    writeFileSync(
      join(dir, 'writer.md'),
      '---\nname: writer\ndescription: A Claude agent that hits a usage limit once.\nexecutor: claude\ncapabilities: [write-text]\ntools: Read\n---\nWrite.\n',
    );
  });
  afterAll(async () => {
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('parks the task without spending an attempt and completes it after the reset', async () => {
    const cp = await cluster.startControlPlane('cp1');
    const api = new Api(cp.url);
    await cluster.startWorker('wl', dir, ['writer'], api, {
      CLAUDE_BIN: FAKE_CLAUDE,
      CLAUDE_RATE_LIMIT_BACKOFF_SECONDS: '2',
      FAKE_CLAUDE_MODE: 'ratelimit',
      FAKE_CLAUDE_RATELIMIT_ONCE: join(dir, 'limited-once'),
      WORKER_PASS_ENV: 'FAKE_CLAUDE_*',
    });
    const task = await api.submit('/v1/tasks', {
      capability: 'write-text',
      payload: { prompt: 'write' },
      retry: { maxRetries: 0 },
      timeoutMs: 60_000,
    });
    const reasons = new Set<string>();
    const done = await cluster.waitFor(
      async () => {
        const t = (await api.get(`/v1/tasks/${task.id}`)).body as {
          status: string;
          attempt: number;
          reason?: string;
        };
        if (t.reason) reasons.add(t.reason);
        return ['COMPLETED', 'FAILED', 'CANCELLED'].includes(t.status) ? t : undefined;
      },
      60_000,
      'the task to end',
      100,
    );
    // maxRetries 0 and still attempt 0: the usage limit spent nothing.
    expect(done).toMatchObject({ status: 'COMPLETED', attempt: 0 });
    expect([...reasons].some((r) => r.includes('rate limited until'))).toBe(true);
  });
});
