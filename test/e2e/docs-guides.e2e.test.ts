import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventsService } from '../../src/events/events.service';
import { deleteBusObjects, uniqueNamespace } from '../support/amqp-cleanup';
import { deletePrefix } from '../support/redis-cleanup';
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../support/test-app';

const ROOT = join(__dirname, '..', '..');
const GUIDES = [
  'docs/GETTING-STARTED.md',
  'docs/HOW-TO-CREATE-AN-AGENT.md',
  'docs/HOW-TO-SUBMIT-WORK.md',
  'docs/TROUBLESHOOTING.md',
];
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/**
 * The shell blocks of a guide: ```sh test blocks are run, ```sh no-test blocks are not (they
 * start the control plane, which this test provides, or need something a test cannot have, such
 * as the `claude` CLI). Any other shell block fails the test: every command is either run or
 * marked, with the reason in the guide's text.
 */
export function shellBlocks(markdown: string): {
  run: string[];
  skipped: number;
  unmarked: string[];
} {
  const run: string[] = [];
  const unmarked: string[] = [];
  let skipped = 0;
  for (const m of markdown.matchAll(/^```(sh|bash|shell|console)([^\n]*)\n([\s\S]*?)^```/gm)) {
    const info = m[2].trim();
    if (info === 'test') run.push(m[3]);
    else if (info === 'no-test') skipped++;
    else unmarked.push(m[3].split('\n')[0]);
  }
  return { run, skipped, unmarked };
}

function bash(script: string, env: Record<string, string>, timeoutMs: number) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd: ROOT, env, detached: true });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      out += `\n[docs test] timed out after ${timeoutMs} ms\n`;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    // 'exit', not 'close': background jobs keep the pipes open after the script ends.
    child.on('exit', (code) => {
      clearTimeout(timer);
      // Whatever a block left in the background (workers, the example HTTP agent) goes too.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      resolve({ code, out });
    });
  });
}

describe('every command in the guides runs against a control plane (e2e)', () => {
  let t: TestApp;
  let env: Record<string, string>;
  let bin: string;
  const agents = new Set<string>();
  const namespace = uniqueNamespace('docs');

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')))
      throw new Error('the CLI is not built: run `npm run build` first (npm test does)');
    t = await startTestApp({
      BUS_TRANSPORT: 'rabbitmq',
      BUS_NAMESPACE: namespace,
      ORCHESTRATOR_NO_AGENT_RETRY_MS: '200',
    });
    t.app.get(EventsService).subscribe((e) => {
      if (e.type === 'agent.registered' && e.agentId) agents.add(e.agentId);
    });
    await t.app.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(t.server.address() as { port: number }).port}`;
    // `switchyard` on PATH, as after `npm i -g` (the guides say `npx switchyard` works the same).
    bin = mkdtempSync(join(tmpdir(), 'sy-docs-bin-'));
    writeFileSync(
      join(bin, 'switchyard'),
      `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'bin', 'switchyard.js')}" "$@"\n`,
    );
    chmodSync(join(bin, 'switchyard'), 0o755);
    env = {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? tmpdir(),
      SWITCHYARD_URL: url,
      SWITCHYARD_TOKEN: ADMIN_TOKEN,
      SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      AMQP_URL,
      REDIS_KEY_PREFIX: t.prefix,
      BUS_NAMESPACE: namespace,
      LOG_LEVEL: 'warn',
      // The claude agent of HOW-TO-CREATE-AN-AGENT runs against the fake `claude` of the tests.
      CLAUDE_BIN: join(ROOT, 'test', 'fixtures', 'fake-claude', 'claude'),
    };
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    if (t) await deletePrefix(t.prefix);
    const names = [...agents, ...[...agents].map((a) => a.split('@')[1] ?? a)];
    await deleteBusObjects(AMQP_URL, namespace, names).catch(() => undefined);
    if (bin) rmSync(bin, { recursive: true, force: true });
  });

  for (const guide of GUIDES) {
    it(`${guide}: every shell block is run (or marked no-test) and succeeds`, async () => {
      const { run, skipped, unmarked } = shellBlocks(readFileSync(join(ROOT, guide), 'utf8'));
      expect(unmarked).toEqual([]);
      expect(run.length).toBeGreaterThan(0);
      const work = mkdtempSync(join(tmpdir(), 'sy-docs-'));
      const script = [
        'set -euo pipefail',
        `export DOCS_TMP=${JSON.stringify(work)}`,
        ...run.map((block, i) => `echo "--- block ${i + 1}/${run.length}"\n${block}`),
      ].join('\n');
      const r = await bash(script, env, 150_000);
      rmSync(work, { recursive: true, force: true });
      if (r.code !== 0) throw new Error(`${guide} failed (exit ${r.code}):\n${r.out.slice(-6000)}`);
      expect(r.out).toContain(`--- block ${run.length}/${run.length}`);
      process.stderr.write(`${guide}: ${run.length} block(s) run, ${skipped} marked no-test\n`);
    }, 180_000);
  }
});
