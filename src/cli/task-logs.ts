import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiClient } from './api-client';
import { enc } from './output.util';

/** A progress step as `GET /v1/tasks/{id}/progress` returns it. */
export interface ProgressStepView {
  attempt: number;
  seq: number;
  at: string;
  kind: string;
  summary: string;
  turn?: number;
}

interface ProgressPage {
  taskId: string;
  status: string;
  steps: ProgressStepView[];
}

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/** One line per step: time, attempt/seq, turn, kind, summary. */
export function renderStep(s: ProgressStepView): string {
  const time = s.at.length >= 19 ? s.at.slice(11, 19) : s.at;
  const turn = s.turn !== undefined ? `t${s.turn}` : '  ';
  return `${time}  #${s.attempt}.${s.seq}  ${turn.padEnd(3)} ${s.kind.padEnd(11)} ${s.summary}`;
}

export interface TaskLogsOptions {
  follow?: boolean;
  json?: boolean;
  pollMs: number;
  /** Give up after this long (follow only). */
  timeoutMs?: number;
}

/**
 * `switchyard task logs ID [--follow]`: prints the task's stored progress steps; with
 * `--follow`, polls for new ones (after the last attempt/seq seen) until the task ends, then
 * prints its final status. Resolves with that status (or the current one without --follow).
 */
export async function taskLogs(
  api: ApiClient,
  id: string,
  opts: TaskLogsOptions,
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<string> {
  let last: { attempt: number; seq: number } | undefined;
  const started = Date.now();
  for (;;) {
    const qs = last ? `?afterAttempt=${last.attempt}&afterSeq=${last.seq}` : '';
    const page = await api.get<ProgressPage>(`/v1/tasks/${enc(id)}/progress${qs}`);
    for (const step of page.steps) {
      out(opts.json ? JSON.stringify(step) : renderStep(step));
      last = { attempt: step.attempt, seq: step.seq };
    }
    const done = TERMINAL.has(page.status);
    if (!opts.follow || done) {
      if (opts.follow)
        out(opts.json ? JSON.stringify({ status: page.status }) : `task ${id} ${page.status}`);
      return page.status;
    }
    if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) return 'TIMEOUT';
    await sleep(opts.pollMs);
  }
}
