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
