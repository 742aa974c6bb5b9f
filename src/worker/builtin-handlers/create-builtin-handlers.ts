import type { BuiltinHandler, BuiltinHandlerRegistry } from './builtin-handler.type';
import { codeReviewerHandler } from './code-reviewer.handler';
import { docWriterHandler } from './doc-writer.handler';
import { mergeHandler } from './merge.handler';
import {
  delegateHandler,
  echoHandler,
  failHandler,
  flakyHandler,
  noopHandler,
  stampHandler,
  sleepHandler,
} from './basic.handlers';

export interface BuiltinHandlerOptions {
  /** Directory builtin agents read from and write to (paths in payloads are confined to it). */
  root: string;
  /** `code-reviewer`: functions longer than this are reported (REVIEW_MAX_FUNCTION_LINES). */
  reviewMaxFunctionLines: number;
  /** `doc-writer`: default report directory, relative to `root` (WORKER_REPORTS_DIR). */
  reportsDir: string;
  /** `merge`: the git repository whose branches it merges (WORKER_WORKSPACE; default `root`). */
  workspace?: string;
  /** Extra handlers (or replacements), by name. */
  extra?: Record<string, BuiltinHandler>;
}

/** The builtin handlers an agent can name with `executor: builtin` + `handler: <name>`. */
export function createBuiltinHandlers(options: BuiltinHandlerOptions): BuiltinHandlerRegistry {
  return new Map<string, BuiltinHandler>([
    [
      'code-reviewer',
      codeReviewerHandler({ root: options.root, maxFunctionLines: options.reviewMaxFunctionLines }),
    ],
    ['doc-writer', docWriterHandler({ root: options.root, reportsDir: options.reportsDir })],
    ['echo', echoHandler],
    ['noop', noopHandler],
    ['stamp', stampHandler],
    ['fail', failHandler],
    ['flaky', flakyHandler()],
    ['sleep', sleepHandler],
    ['delegate', delegateHandler],
    ['merge', mergeHandler({ workspace: options.workspace ?? options.root })],
    ...Object.entries(options.extra ?? {}),
  ]);
}
