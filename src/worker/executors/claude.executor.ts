import { z } from 'zod';
import type { AgentDefinition } from '../../agents/agent-definition.type';
import { abortFailure, failure } from './execution-error';
import { effectiveTimeoutMs, scopedSignal } from './execution-signal';
import type { ExecutorOptions } from './executor-options';
import type {
  ExecutionContext,
  ExecutionRequest,
  ExecutionResult,
  ExecutionUsage,
  Executor,
} from './executor.types';
import { runProcess, tail } from './process-runner';

/** The result object `claude -p --output-format json` prints (fields we use; others are kept). */
const claudeResultSchema = z.looseObject({
  type: z.literal('result'),
  subtype: z.string(),
  is_error: z.boolean().optional(),
  result: z.string().optional(),
  session_id: z.string().optional(),
  num_turns: z.number().optional(),
  duration_ms: z.number().optional(),
  total_cost_usd: z.number().optional(),
  usage: z
    .looseObject({
      input_tokens: z.number().optional(),
      output_tokens: z.number().optional(),
      cache_creation_input_tokens: z.number().optional(),
      cache_read_input_tokens: z.number().optional(),
    })
    .optional(),
});
export type ClaudeResult = z.infer<typeof claudeResultSchema>;

/** What a successful `claude` execution outputs. */
export interface ClaudeOutput {
  /** Claude's final answer (`result`). */
  text: string;
  /** The answer parsed as JSON, when it is a JSON document (bare or in one ```json fence). */
  data?: unknown;
  sessionId?: string;
}

/** Environment variables of the worker that a `claude` process must not see. */
const WITHHELD_ENV = /^(SWITCHYARD_|AMQP_URL$|REDIS_URL$)/;

/** The prompt Claude gets for a task: the payload's `prompt` (if a string), the payload and the inputs as JSON. */
export function buildClaudePrompt(request: ExecutionRequest): string {
  const parts: string[] = [];
  const where = request.workflowId
    ? ` in workflow ${request.workflowId}${request.ref ? ` as "${request.ref}"` : ''}`
    : '';
  parts.push(
    `You are running Switchyard task ${request.taskId} (capability "${request.capability}", attempt ${request.attempt})${where}.`,
  );
  const payload = request.payload;
  if (
    payload &&
    typeof payload === 'object' &&
    'prompt' in payload &&
    typeof payload.prompt === 'string'
  ) {
    parts.push(payload.prompt);
  }
  parts.push(
    `Task payload (JSON):\n\`\`\`json\n${JSON.stringify(payload ?? null, null, 2)}\n\`\`\``,
  );
  const inputs = request.inputs ?? {};
  if (Object.keys(inputs).length > 0) {
    parts.push(
      `Results of the tasks this one depends on, keyed by task id / ref (JSON):\n\`\`\`json\n${JSON.stringify(inputs, null, 2)}\n\`\`\``,
    );
  }
  parts.push(
    'Do the task, then give your final answer. When the task asks for structured data, answer with a single JSON document and nothing else.',
  );
  return parts.join('\n\n');
}

/** The `claude` argv for an agent (the prompt itself goes on stdin). */
export function buildClaudeArgs(
  agent: AgentDefinition,
  mode: ExecutorOptions['claudeSystemPrompt'],
): string[] {
  const args = ['-p', '--output-format', 'json'];
  const system = agent.systemPrompt.trim();
  if (system) args.push(mode === 'append' ? '--append-system-prompt' : '--system-prompt', system);
  if (agent.tools && agent.tools.length > 0) args.push('--allowedTools', agent.tools.join(','));
  if (agent.disallowedTools.length > 0)
    args.push('--disallowedTools', agent.disallowedTools.join(','));
  if (agent.model && agent.model !== 'inherit') args.push('--model', agent.model);
  if (agent.maxTurns !== undefined) args.push('--max-turns', String(agent.maxTurns));
  if (agent.permissionMode) args.push('--permission-mode', agent.permissionMode);
  return args;
}

/** Parses stdout: one result object, or (with `--verbose`) an array of messages ending in one. */
export function parseClaudeStdout(stdout: string): ClaudeResult | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.trim());
  } catch {
    // stream-json: one object per line, the result last.
    const lines = stdout.trim().split('\n').filter(Boolean);
    try {
      parsed = lines.map((l) => JSON.parse(l) as unknown);
    } catch {
      return undefined;
    }
  }
  const candidates = Array.isArray(parsed) ? [...(parsed as unknown[])].reverse() : [parsed];
  for (const c of candidates) {
    const r = claudeResultSchema.safeParse(c);
    if (r.success) return r.data;
  }
  return undefined;
}

/** The answer as JSON when it is one (bare, or inside one ```json fence). */
export function extractJson(text: string): unknown {
  const trimmed = text.trim();
  const fenced = /^```(?:json)?\s*\n([\s\S]*?)\n```$/.exec(trimmed);
  const candidate = fenced ? fenced[1] : trimmed;
  if (!/^[[{]/.test(candidate.trim())) return undefined;
  try {
    return JSON.parse(candidate) as unknown;
  } catch {
    return undefined;
  }
}

function usageOf(r: ClaudeResult, durationMs: number): ExecutionUsage {
  const u = r.usage;
  const input = u
    ? (u.input_tokens ?? 0) +
      (u.cache_creation_input_tokens ?? 0) +
      (u.cache_read_input_tokens ?? 0)
    : undefined;
  return {
    costUsd: r.total_cost_usd,
    inputTokens: input,
    outputTokens: u?.output_tokens,
    turns: r.num_turns,
    durationMs: r.duration_ms ?? durationMs,
  };
}

const TRANSIENT = /\b(429|529|overloaded|rate[ _-]?limit)/i;

/**
 * `claude`: runs Claude Code headless for the agent — `claude -p --output-format json` with the
 * agent body as system prompt, `tools` → `--allowedTools`, `disallowedTools`, `model`,
 * `maxTurns` → `--max-turns`, `permissionMode` → `--permission-mode`; the task prompt on stdin.
 * Records cost, tokens and turns. `is_error: true` is a failure even when `subtype` is `success`.
 * The process runs in its own group and is killed (SIGTERM, then SIGKILL) on timeout or abort.
 */
export class ClaudeExecutor implements Executor {
  readonly kind = 'claude' as const;

  constructor(
    private readonly options: Pick<
      ExecutorOptions,
      | 'claudeBin'
      | 'claudeSystemPrompt'
      | 'defaultTimeoutMs'
      | 'killGraceMs'
      | 'commandMaxOutputBytes'
      | 'commandMaxStderrBytes'
      | 'env'
      | 'cwd'
    >,
  ) {}

  async execute(request: ExecutionRequest, ctx: ExecutionContext): Promise<ExecutionResult> {
    const timeoutMs = effectiveTimeoutMs(
      request.timeoutMs,
      ctx.agent.timeoutSeconds,
      this.options.defaultTimeoutMs,
    );
    const scoped = scopedSignal(ctx.signal, timeoutMs);
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(this.options.env)) if (!WITHHELD_ENV.test(k)) env[k] = v;
    Object.assign(env, {
      SWITCHYARD_TASK_ID: request.taskId,
      SWITCHYARD_ATTEMPT: String(request.attempt),
      SWITCHYARD_AGENT: ctx.agent.name,
    });
    const bin = this.options.claudeBin;
    try {
      const run = await runProcess({
        argv: [bin, ...buildClaudeArgs(ctx.agent, this.options.claudeSystemPrompt)],
        stdin: buildClaudePrompt(request),
        env,
        cwd: this.options.cwd,
        signal: scoped.signal,
        killGraceMs: this.options.killGraceMs,
        maxStdoutBytes: this.options.commandMaxOutputBytes,
        maxStderrBytes: this.options.commandMaxStderrBytes,
      });
      const durationMs = run.durationMs;
      if (run.spawnError) {
        return failure(
          run.spawnError.code === 'ENOENT' ? 'not_found' : 'validation',
          `cannot start Claude Code (${bin}): ${run.spawnError.message}`,
          { code: run.spawnError.code },
          { durationMs },
        );
      }
      if (run.aborted) return abortFailure(scoped.signal, { durationMs });
      if (run.overflow) {
        return failure(
          'output_too_large',
          `claude ${run.overflow} exceeded its cap; the process was killed`,
          { stream: run.overflow },
          { durationMs },
        );
      }
      const result = parseClaudeStdout(run.stdout);
      if (!result) {
        if (run.exitCode !== 0) {
          const how = run.exitSignal
            ? `was killed by ${run.exitSignal}`
            : `exited with code ${run.exitCode}`;
          const stderrTail = tail(run.stderr.trim());
          return failure(
            'exit_nonzero',
            `claude ${how}${stderrTail ? `: ${tail(stderrTail, 500)}` : ''}`,
            { exitCode: run.exitCode, signal: run.exitSignal, stderrTail },
            { durationMs },
          );
        }
        return failure(
          'bad_output',
          'claude did not print a JSON result object',
          { stdoutHead: run.stdout.slice(0, 500) },
          { durationMs },
        );
      }
      const usage = usageOf(result, durationMs);
      const text = result.result ?? '';
      if (result.is_error === true || result.subtype !== 'success') {
        const type =
          result.subtype === 'error_max_turns'
            ? 'max_turns'
            : TRANSIENT.test(text)
              ? 'rate_limited'
              : 'agent_error';
        return failure(
          type,
          `claude reported an error (subtype ${result.subtype}${result.is_error ? ', is_error' : ''})${text ? `: ${tail(text, 500)}` : ''}`,
          {
            subtype: result.subtype,
            isError: result.is_error ?? false,
            sessionId: result.session_id,
            exitCode: run.exitCode,
          },
          usage,
        );
      }
      const output: ClaudeOutput = { text };
      const data = extractJson(text);
      if (data !== undefined) output.data = data;
      if (result.session_id) output.sessionId = result.session_id;
      return { ok: true, output, usage };
    } finally {
      scoped.dispose();
    }
  }
}
