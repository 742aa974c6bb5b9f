import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { deletePrefix } from '../support/redis-cleanup';
import { ensureBuilt, freePort, Proc, ROOT, sleep } from '../support/processes';
import { uniquePrefix } from '../support/test-app';

jest.setTimeout(120_000);

/** `node dist/main.js` (the conventional Nest entry, nest-cli.json) runs the control plane. */
describe('dist/main.js (e2e)', () => {
  const prefix = uniquePrefix('main-entry');
  let proc: Proc | undefined;

  afterAll(async () => {
    await proc?.stop();
    await deletePrefix(prefix);
  });

  it('starts the server, answers /health/live, and stops cleanly on SIGTERM', async () => {
    await ensureBuilt();
    const entry = join(ROOT, 'dist', 'main.js');
    expect(existsSync(entry)).toBe(true);
    const port = await freePort();
    proc = new Proc(
      'main',
      spawn(process.execPath, [entry], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          PORT: String(port),
          HOST: '127.0.0.1',
          REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
          REDIS_KEY_PREFIX: prefix,
          BUS_TRANSPORT: 'memory',
          SWITCHYARD_ADMIN_TOKEN: 'main-entry-admin-token-0123456789',
          LOG_LEVEL: 'warn',
        },
      }),
    );
    let status = 0;
    for (let i = 0; i < 240 && proc.alive && status !== 200; i++) {
      status = await fetch(`http://127.0.0.1:${port}/health/live`)
        .then((r) => r.status)
        .catch(() => 0);
      if (status !== 200) await sleep(250);
    }
    expect({ status, alive: proc.alive }).toEqual({ status: 200, alive: true });
    // Nest's shutdown hooks close the app, then re-raise SIGTERM; SIGKILL would mean it hung.
    await proc.stop(15_000);
    expect([proc.exitCode, proc.exitSignal]).toEqual([null, 'SIGTERM']);
  });
});
