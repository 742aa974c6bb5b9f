/**
 * Two writers contending for one state document through the state module's lock + fencing token
 * (`DistributedLockService.acquire` + `StateService.writeFenced`), each with its own Redis
 * connections, running across a Redis failover. Locks are short (no watchdog) and a holder now and
 * then pauses past the ttl, so the other writer takes over and the fencing check is exercised all
 * the time, not only at the failover.
 *
 * A write is STALE when it was accepted although, before it was sent, another acquisition had
 * been granted a fencing token at least as large (tokens must only grow; a newer holder's token
 * must make every older one unusable). Counted by this process, which sees both writers' grants
 * and writes on one clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppException } from '../../src/common/errors/app.exception';
import type { LockHandle } from '../../src/state/lock/lock-handle';
import { buildStateStack, type StateStack } from '../support/state-stack';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface FencedWritersResult {
  grants: number;
  writes_accepted: number;
  /** Writes the store refused for an old token (the fencing check working). */
  writes_refused_stale: number;
  /** Writes accepted with a token that was no longer the newest (must be 0). */
  stale_fenced_writes: number;
  /** Grants whose token was not larger than an earlier grant's (the counter went back). */
  fence_regressions: number;
  errors: number;
  examples: string[];
}

interface Grant {
  idx: number;
  writer: string;
  fence: number;
  at: number;
}

export interface FencedWriters {
  stop(): Promise<FencedWritersResult>;
}

export async function startFencedWriters(
  env: NodeJS.ProcessEnv,
  opts: { key?: string; ttlMs?: number; log?: (l: string) => void } = {},
): Promise<FencedWriters> {
  const key = opts.key ?? 'ha/fenced-counter';
  const ttlMs = opts.ttlMs ?? 800;
  const dir = mkdtempSync(join(tmpdir(), 'sy-ha-state-'));
  const stacks: StateStack[] = [];
  for (let i = 0; i < 2; i++) {
    stacks.push(
      await buildStateStack({
        ...env,
        STATE_STORE: 'local',
        STATE_LOCAL_DIR: join(dir, `w${i}`),
      }),
    );
  }
  const grants: Grant[] = [];
  const writes: { grant: Grant; sentAt: number }[] = [];
  let refused = 0;
  let errors = 0;
  let running = true;
  const lastError = new Map<string, string>();

  const loop = async (writer: string, stack: StateStack) => {
    while (running) {
      let lock: LockHandle;
      try {
        lock = await stack.locks.acquire(key, { ttlMs, waitMs: 5000, watchdog: false });
      } catch (e) {
        errors++;
        lastError.set(writer, (e as Error).message);
        await sleep(50);
        continue;
      }
      const grant: Grant = { idx: grants.length, writer, fence: lock.fence, at: Date.now() };
      grants.push(grant);
      for (let k = 0; k < 3 && running; k++) {
        // One pause in five outlives the lock: a holder stalled (GC, swap) while the other takes over.
        await sleep(Math.random() < 0.2 ? ttlMs + 200 : 20 + Math.random() * 60);
        const sentAt = Date.now();
        try {
          await stack.state.writeFenced(lock, { writer, fence: lock.fence, k, at: sentAt }, writer);
          writes.push({ grant, sentAt });
        } catch (e) {
          if (e instanceof AppException && /fencing token/.test(e.message)) refused++;
          else {
            errors++;
            lastError.set(writer, (e as Error).message);
          }
          break;
        }
      }
      await lock.release().catch(() => false);
    }
  };
  const loops = stacks.map((s, i) => loop(`writer-${i + 1}`, s));

  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      await Promise.all(stacks.map((s) => s.close().catch(() => undefined)));
      rmSync(dir, { recursive: true, force: true });
      const examples: string[] = [];
      let stale = 0;
      for (const w of writes) {
        const newer = grants.find(
          (g) => g.idx !== w.grant.idx && g.at < w.sentAt && g.fence >= w.grant.fence,
        );
        if (!newer) continue;
        stale++;
        if (examples.length < 5) {
          examples.push(
            `${w.grant.writer} wrote with fence ${w.grant.fence} at +${w.sentAt - w.grant.at}ms of its grant; ${newer.writer} had been granted fence ${newer.fence} ${w.sentAt - newer.at}ms earlier`,
          );
        }
      }
      let regressions = 0;
      let max = 0;
      for (const g of grants) {
        if (g.fence <= max) regressions++;
        max = Math.max(max, g.fence);
      }
      for (const [w, m] of lastError) opts.log?.(`${w} last error: ${m}`);
      return {
        grants: grants.length,
        writes_accepted: writes.length,
        writes_refused_stale: refused,
        stale_fenced_writes: stale,
        fence_regressions: regressions,
        errors,
        examples,
      };
    },
  };
}
