/**
 * One of the benchmark's concurrent writers, in its own process: N read-modify-write increments
 * of one counter (GET, then PUT with If-Match, retry on 412). Env: REDIS_*, S3_*, STATE_*,
 * INCREMENTS, KEY. Prints `{"ok":N,"conflicts":M}` as its last line.
 */
import { AppException } from '../../src/common/errors/app.exception';
import { ErrorCode } from '../../src/common/errors/error-code.enum';
import { buildStateStack } from './state-stack';

async function main(): Promise<void> {
  const n = Number(process.env.INCREMENTS ?? 1000);
  const key = process.env.KEY ?? 'bench/counter';
  const stack = await buildStateStack(process.env);
  let ok = 0;
  let conflicts = 0;
  while (ok < n) {
    const doc = await stack.state.get(key);
    const count = (doc.value as { count: number }).count;
    try {
      await stack.state.put(key, { count: count + 1 }, doc.version, `incrementer-${process.pid}`);
      ok++;
    } catch (e) {
      if (e instanceof AppException && e.code === ErrorCode.PreconditionFailed) conflicts++;
      else throw e;
    }
  }
  await stack.close();
  process.stdout.write(`${JSON.stringify({ ok, conflicts })}\n`);
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`incrementer failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
