import { abortFailure, failure } from './execution-error';
import { effectiveTimeoutMs, scopedSignal } from './execution-signal';
import type { ExecutorOptions } from './executor-options';
import type {
  ExecutionContext,
  ExecutionRequest,
  ExecutionResult,
  Executor,
} from './executor.types';
import { agentProcessEnv, runProcess, tail } from './process-runner';

/** What a command agent reads on stdin (one JSON document, then EOF). */
export interface CommandAgentInput {
  taskId: string;
  attempt: number;
  capability: string;
  payload: unknown;
  inputs: Record<string, unknown>;
  workflowId?: string;
  ref?: string;
}

/** The document a command agent reads on stdin and an http agent receives as its POST body. */
export function agentInput(request: ExecutionRequest): CommandAgentInput {
  return {
    taskId: request.taskId,
    attempt: request.attempt,
    capability: request.capability,
    payload: request.payload ?? null,
    inputs: request.inputs ?? {},
    ...(request.workflowId ? { workflowId: request.workflowId } : {}),
    ...(request.ref ? { ref: request.ref } : {}),
  };
}

/**
 * `command`: runs the agent's argv (never through a shell) in its own process group. The task is
 * one JSON document on stdin; the process writes one JSON document (its output) to stdout and
 * exits 0. A non-zero exit fails with the stderr tail; stdout that is not JSON fails with
 * `bad_output`; stdout/stderr over their caps fail with `output_too_large`. On timeout or abort
 * the group gets SIGTERM, then SIGKILL after the grace period; nothing is left running.
 *
 * Safe by construction: the argv is exactly the agent file's `command` list; task data (payload,
 * inputs, ids) reaches the process only on stdin, never in argv, so it can never become an
 * option of the agent's program. An agent script that turns payload data into arguments of
 * another program must follow the rules in docs/SECURITY.md ("How payload data may reach a
 * process"): operands only, after `--`, no leading `-`, no control characters, paths confined to
 * the working directory (the example test-runner does exactly that).
 */
export class CommandExecutor implements Executor {
  readonly kind = 'command' as const;

  constructor(
    private readonly argv: readonly string[],
    private readonly options: Pick<
      ExecutorOptions,
      | 'defaultTimeoutMs'
      | 'killGraceMs'
      | 'commandMaxOutputBytes'
      | 'commandMaxStderrBytes'
      | 'env'
      | 'cwd'
      | 'passEnv'
      | 'runAs'
    >,
  ) {}

  async execute(request: ExecutionRequest, ctx: ExecutionContext): Promise<ExecutionResult> {
    if (this.argv.length === 0 || !this.argv[0]) {
      return failure(
        'validation',
        `agent ${ctx.agent.name} has executor: command but no command argv`,
      );
    }
    const timeoutMs = effectiveTimeoutMs(
      request.timeoutMs,
      ctx.agent.timeoutSeconds,
      this.options.defaultTimeoutMs,
    );
    const scoped = scopedSignal(ctx.signal, timeoutMs);
    const input = agentInput(request);
    try {
      const run = await runProcess({
        argv: [...this.argv],
        stdin: JSON.stringify(input),
        env: agentProcessEnv(this.options.env, {
          passEnv: [...this.options.passEnv, ...(ctx.agent.passEnv ?? [])],
          extra: {
            SWITCHYARD_TASK_ID: request.taskId,
            SWITCHYARD_ATTEMPT: String(request.attempt),
            SWITCHYARD_CAPABILITY: request.capability,
            SWITCHYARD_AGENT: ctx.agent.name,
            ...(ctx.switchyard
              ? {
                  SWITCHYARD_URL: ctx.switchyard.url,
                  SWITCHYARD_TASK_TOKEN: ctx.switchyard.token,
                }
              : {}),
          },
        }),
        cwd: this.options.cwd,
        runAs: this.options.runAs,
        signal: scoped.signal,
        killGraceMs: this.options.killGraceMs,
        maxStdoutBytes: this.options.commandMaxOutputBytes,
        maxStderrBytes: this.options.commandMaxStderrBytes,
        logger: ctx.logger,
      });
      const usage = { durationMs: run.durationMs };
      if (run.spawnError) {
        const code = run.spawnError.code;
        return failure(
          code === 'ENOENT' ? 'not_found' : 'validation',
          `cannot start ${this.argv[0]}: ${run.spawnError.message}`,
          { code },
          usage,
        );
      }
      if (run.aborted) return abortFailure(scoped.signal, usage);
      if (run.overflow) {
        const cap =
          run.overflow === 'stdout'
            ? this.options.commandMaxOutputBytes
            : this.options.commandMaxStderrBytes;
        return failure(
          'output_too_large',
          `${run.overflow} exceeded ${cap} bytes; the process was killed`,
          { stream: run.overflow, limitBytes: cap },
          usage,
        );
      }
      if (run.exitCode !== 0) {
        const how = run.exitSignal
          ? `was killed by ${run.exitSignal}`
          : `exited with code ${run.exitCode}`;
        const stderrTail = tail(run.stderr.trim());
        return failure(
          'exit_nonzero',
          `${this.argv[0]} ${how}${stderrTail ? `: ${tail(stderrTail, 500)}` : ''}`,
          { exitCode: run.exitCode, signal: run.exitSignal, stderrTail },
          usage,
        );
      }
      const text = run.stdout.trim();
      if (text === '')
        return failure(
          'bad_output',
          `${this.argv[0]} wrote nothing to stdout (expected one JSON document)`,
          undefined,
          usage,
        );
      try {
        return { ok: true, output: JSON.parse(text) as unknown, usage };
      } catch (err) {
        return failure(
          'bad_output',
          `stdout of ${this.argv[0]} is not JSON: ${err instanceof Error ? err.message : String(err)}`,
          { stdoutHead: text.slice(0, 500) },
          usage,
        );
      }
    } finally {
      scoped.dispose();
    }
  }
}
