/** Exit codes of the CLI (documented in docs/CLI-REFERENCE.md). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  unreachable: 4,
  auth: 5,
  notFound: 6,
} as const;
