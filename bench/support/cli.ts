/**
 * The entry of a bench harness that prints ONE JSON summary line on stdout (`npm run chaos`,
 * `npm run test:ha`): parse the flags (a bad flag: its message on stderr, exit 2), run, print the
 * summary, exit with what `exitCode` says of it; a run that throws: its stack on stderr, exit
 * `failedExit`.
 */
export function runMain<O, S>(
  name: string,
  parse: (argv: string[]) => O,
  run: (opts: O) => Promise<S>,
  {
    exitCode = () => 0,
    failedExit = 1,
  }: { exitCode?: (summary: S) => number; failedExit?: number } = {},
): void {
  let opts: O;
  try {
    opts = parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  run(opts).then(
    (summary) => {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      process.exit(exitCode(summary));
    },
    (e: Error) => {
      process.stderr.write(`${name} run failed: ${e.stack ?? e.message}\n`);
      process.exit(failedExit);
    },
  );
}

/**
 * Ctrl-C / SIGTERM during a run: `cleanup` (kill what the run started, remove its temp dir), then
 * exit 130. Returns the function that removes the handlers (the run's own `finally` cleans up).
 */
export function exitOnSignal(cleanup: () => Promise<unknown>): () => void {
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
