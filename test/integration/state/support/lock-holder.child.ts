/**
 * A lock holder in its own process, driven over stdin (one command per line); answers on
 * stdout with lines starting `@@ ` (anything else on stdout is log output):
 *   hold <lock> <ms>   acquire (waiting), hold for ms, release  → @@ acquired <fence> <t> / @@ released <t>
 *   acquire <lock>     acquire and keep it (watchdog on)         → @@ acquired <fence> <t>
 *   write <json>       write the held lock's document with its fencing token → @@ wrote <outcome json>
 *   release            → @@ released <t>
 */
import { createInterface } from 'node:readline';
import { Logger } from '@nestjs/common';
import { ConfigService } from '../../../../src/config/config.service';
import { loadConfig } from '../../../../src/config/load-config';
import { RedisService } from '../../../../src/redis/redis.service';
import { DistributedLockService } from '../../../../src/state/lock/distributed-lock.service';
import type { LockHandle } from '../../../../src/state/lock/lock-handle';
import { StateRepository } from '../../../../src/state/state.repository';

const say = (line: string) => process.stdout.write(`@@ ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  const config = new ConfigService(loadConfig(process.env));
  const redis = new RedisService(config);
  await redis.onModuleInit();
  const locks = new DistributedLockService(redis, config);
  const repo = new StateRepository(redis);
  let held: LockHandle | undefined;

  const lines = createInterface({ input: process.stdin });
  say('ready');
  for await (const line of lines) {
    const [cmd, arg, arg2] = line.trim().split(' ');
    if (cmd === 'hold' && arg) {
      const lock = await locks.acquire(arg, { waitMs: 30_000 });
      say(`acquired ${lock.fence} ${Date.now()}`);
      await sleep(Number(arg2));
      const t = Date.now();
      await lock.release();
      say(`released ${t}`);
    } else if (cmd === 'acquire' && arg) {
      held = await locks.acquire(arg, { waitMs: 30_000 });
      say(`acquired ${held.fence} ${Date.now()}`);
    } else if (cmd === 'write' && held) {
      const outcome = await repo.write({
        key: held.name,
        fence: held.fence,
        value: JSON.parse(line.slice('write '.length)) as unknown,
        updatedBy: `child-${process.pid}`,
      });
      say(`wrote ${JSON.stringify(outcome)}`);
    } else if (cmd === 'release' && held) {
      await held.release();
      held = undefined;
      say(`released ${Date.now()}`);
    } else if (cmd === 'exit') {
      break;
    }
  }
  await redis.onApplicationShutdown();
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`lock-holder failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
