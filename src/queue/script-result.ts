import type { ReadyEntry } from './task-jobs.adapter';

/** One event a script reports: [kind, taskId|workflowId, reason, capability, workflowId, agentId, attempt, priority]. */
export type ScriptEvent = [string, string, string, string, string, string, string, string];

/** What every lifecycle script returns (JSON), see commands/task-lib.lua `result`. */
export interface ScriptResult {
  ok: boolean;
  ready: ReadyEntry[] | Record<string, never>;
  events: ScriptEvent[] | Record<string, never>;
  status?: string;
  attempt?: number;
  existing?: string;
  /** Status of the task the idempotency key points at (for `existing`). */
  existingStatus?: string;
  conflict?: string;
  /** A limit the submission broke (delegation depth/fan-out/cycle, budget). */
  refused?: {
    code: 'DELEGATION_LIMIT' | 'BUDGET_EXCEEDED' | 'NOT_FOUND' | 'CONFLICT';
    message: string;
    details?: Record<string, unknown>;
  };
  ids?: string[];
  /** Status of each created task, parallel to `ids` (enqueue). */
  statuses?: string[];
  cancelled?: [string, string, number][] | Record<string, never>;
  revived?: string[] | Record<string, never>;
}

/** cjson encodes an empty Lua table as `{}`: read lists through this. */
export const asArray = <T>(v: T[] | Record<string, never> | undefined): T[] =>
  Array.isArray(v) ? v : [];

export const parseScriptResult = (json: string): ScriptResult => JSON.parse(json) as ScriptResult;
