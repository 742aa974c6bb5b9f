import type { AgentDefinition } from '../../agents/agent-definition.type';
import { runClaudeCli, type ClaudeRunner, type ClaudeRunOutcome } from './claude-cli.runner';
import { runClaudeSdk } from './claude-sdk.runner';
import { ClaudeStreamParser, clip, type ClaudeResult } from './claude-stream.parser';
import { recognizeUsageLimit } from './claude-usage-limit';
import { ClaudeWorkspaces, type TaskWorkspace, type WorkspaceOutcome } from './claude-workspace';
import { ExecutionAborted, abortFailure, errorMessage, failure } from './execution-error';
import { effectiveTimeoutMs, scopedSignal } from './execution-signal';
import type { ExecutorOptions } from './executor-options';
import type {
  ExecutionContext,
  ExecutionRequest,
  ExecutionResult,
  ExecutionUsage,
  Executor,
} from './executor.types';
import { agentProcessEnv, CLAUDE_CODE_ENV, tail } from './process-runner';

export { claudeResultSchema, type ClaudeResult } from './claude-stream.parser';

/** What a successful `claude` execution outputs. */
export interface ClaudeOutput {
  /** Claude's final answer (`result`). */
  text: string;
  /** The answer parsed as JSON, when it is a JSON document (bare or in one ```json fence). */
  data?: unknown;
  sessionId?: string;
  /** This attempt resumed the session of the attempt before it (`--resume`). */
  resumed?: boolean;
  /** Tool calls Claude Code refused (no allow rule): the agent may have done less than asked. */
  permissionDenials?: { tool: string; input?: unknown }[];
  /** Things the operator should see (refused Switchyard tools…). */
  warnings?: string[];
  /** Worktree isolation: the branch, commit and diff stat the task left. */
  workspace?: WorkspaceOutcome;
}

/** The reason the executor aborts a silent run with. */
export class ClaudeStalled extends Error {
  constructor(readonly silentMs: number) {
    super(`claude printed nothing for ${Math.round(silentMs / 1000)} s`);
    this.name = 'ClaudeStalled';
  }
}

/** The prompt Claude gets for a task: the payload's `prompt` (if a string), the payload and the inputs as JSON. */
export function buildClaudePrompt(request: ExecutionRequest, resumed = false): string {
  const parts: string[] = [];
  const where = request.workflowId
    ? ` in workflow ${request.workflowId}${request.ref ? ` as "${request.ref}"` : ''}`
    : '';
  if (resumed) {
    parts.push(
      'Your previous attempt at this task was interrupted (it stalled or ran out of time). Continue from where you stopped; do not redo finished work.',
    );
  }
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

/** Extra inputs of the argv besides the agent definition. */
export interface ClaudeArgsExtras {
  /** Session to resume (`--resume`). */
  resumeSessionId?: string;
  /** The Switchyard MCP server to give the agent (skipped when the agent says `mcp: false`). */
  switchyard?: { url: string; token: string };
  /** What is left of the task tree's USD budget (`--max-budget-usd`). */
  maxBudgetUsd?: number;
}

/** The MCP tools of the Switchyard server, always allowed when the server is given. */
export const SWITCHYARD_MCP_TOOLS = 'mcp__switchyard__*';

/** `--mcp-config` JSON for the Switchyard MCP server (HTTP transport, bearer token). */
export function switchyardMcpConfig(server: { url: string; token: string }): string {
  return JSON.stringify({
    mcpServers: {
      switchyard: {
        type: 'http',
        url: `${server.url.replace(/\/+$/, '')}/mcp`,
        headers: { Authorization: `Bearer ${server.token}` },
      },
    },
  });
}

/** The `claude` argv for an agent (the prompt itself goes on stdin). */
export function buildClaudeArgs(
  agent: AgentDefinition,
  mode: ExecutorOptions['claudeSystemPrompt'],
  extras: ClaudeArgsExtras = {},
): string[] {
  const args = ['-p', '--output-format', 'stream-json', '--verbose'];
  if (extras.resumeSessionId) args.push('--resume', extras.resumeSessionId);
  if (extras.maxBudgetUsd !== undefined) {
    // Claude Code stops the run itself when it would spend more than is left.
    args.push(
      '--max-budget-usd',
      String(Math.max(0, Math.round(extras.maxBudgetUsd * 10_000) / 10_000)),
    );
  }
  const system = agent.systemPrompt.trim();
  if (system) args.push(mode === 'append' ? '--append-system-prompt' : '--system-prompt', system);
  const mcp = extras.switchyard && agent.mcp !== false ? extras.switchyard : undefined;
  const allowed = [...(agent.tools ?? [])];
  if (mcp && !allowed.includes(SWITCHYARD_MCP_TOOLS)) allowed.push(SWITCHYARD_MCP_TOOLS);
  if (allowed.length > 0) args.push('--allowedTools', allowed.join(','));
  if (agent.disallowedTools.length > 0)
    args.push('--disallowedTools', agent.disallowedTools.join(','));
  if (agent.model && agent.model !== 'inherit') args.push('--model', agent.model);
  if (agent.maxTurns !== undefined) args.push('--max-turns', String(agent.maxTurns));
  if (agent.permissionMode) args.push('--permission-mode', agent.permissionMode);
  if (mcp) args.push('--mcp-config', switchyardMcpConfig(mcp), '--strict-mcp-config');
  return args;
}

/** Parses a whole stdout at once (tests, the `json` output format): the final result, if any. */
export function parseClaudeStdout(stdout: string): ClaudeResult | undefined {
  const parser = new ClaudeStreamParser();
  parser.push(Buffer.from(stdout));
  parser.end();
  return parser.result;
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

function usageOf(r: ClaudeResult | undefined, durationMs: number, turns: number): ExecutionUsage {
  const u = r?.usage;
  const input = u
    ? (u.input_tokens ?? 0) +
      (u.cache_creation_input_tokens ?? 0) +
      (u.cache_read_input_tokens ?? 0)
    : undefined;
  const usage: ExecutionUsage = { durationMs: r?.duration_ms ?? durationMs };
  if (r?.total_cost_usd !== undefined) usage.costUsd = r.total_cost_usd;
  if (input !== undefined) usage.inputTokens = input;
  if (u?.output_tokens !== undefined) usage.outputTokens = u.output_tokens;
  const t = r?.num_turns ?? (turns > 0 ? turns : undefined);
  if (t !== undefined) usage.turns = t;
  return usage;
}

type ClaudeOptions = Pick<
  ExecutorOptions,
  | 'claudeBin'
  | 'claudeSystemPrompt'
  | 'defaultTimeoutMs'
  | 'killGraceMs'
  | 'commandMaxOutputBytes'
  | 'commandMaxStderrBytes'
  | 'env'
  | 'cwd'
> &
  Partial<
    Pick<
      ExecutorOptions,
      | 'claudeRunner'
      | 'claudeStallMs'
      | 'claudeRateLimitBackoffMs'
      | 'isolation'
      | 'workspace'
      | 'branchRetentionMs'
      | 'passEnv'
    >
  >;

/**
 * `claude`: runs Claude Code headless for the agent — `claude -p --output-format stream-json
 * --verbose` (or the Agent SDK with `CLAUDE_RUNNER=sdk`) with the agent body as system prompt,
 * `tools` → `--allowedTools`, `disallowedTools`, `model`, `maxTurns` → `--max-turns`,
 * `permissionMode` → `--permission-mode`; the task prompt on stdin. Parses the stream as it
 * comes and publishes each step through `ctx.progress`. `is_error: true` is a failure whatever
 * the `subtype` says; a usage/rate limit or overload is the retryable `rate_limited` with
 * `details.retryAt`; no output for `claudeStallMs` kills the process group (`stalled`); the
 * next attempt of a stalled or timed-out task resumes its session (`--resume`). Writing agents
 * can run in their own git worktree (see {@link ClaudeWorkspaces}).
 */
export class ClaudeExecutor implements Executor {
  readonly kind = 'claude' as const;
  private readonly workspaces: ClaudeWorkspaces;

  private readonly runner: ClaudeRunner;

  constructor(
    private readonly options: ClaudeOptions,
    runner?: ClaudeRunner,
  ) {
    this.runner = runner ?? (options.claudeRunner === 'sdk' ? runClaudeSdk : runClaudeCli);
    this.workspaces = new ClaudeWorkspaces({
      workspace: options.workspace ?? options.cwd,
      isolation: options.isolation ?? 'none',
      branchRetentionMs: options.branchRetentionMs,
      env: options.env,
    });
  }

  async execute(request: ExecutionRequest, ctx: ExecutionContext): Promise<ExecutionResult> {
    const agent = ctx.agent;
    const timeoutMs = effectiveTimeoutMs(
      request.timeoutMs,
      agent.timeoutSeconds,
      this.options.defaultTimeoutMs,
    );
    const scoped = scopedSignal(ctx.signal, timeoutMs);
    // An allow-list (docs/SECURITY.md): what any agent gets, what Claude Code itself reads, and
    // what the operator or the agent file names; never the worker's own secrets.
    const env = agentProcessEnv(this.options.env, {
      passEnv: [...CLAUDE_CODE_ENV, ...(this.options.passEnv ?? []), ...(agent.passEnv ?? [])],
      extra: {
        SWITCHYARD_TASK_ID: request.taskId,
        SWITCHYARD_ATTEMPT: String(request.attempt),
        SWITCHYARD_AGENT: agent.name,
      },
    });
    const resumeId =
      request.resumeSessionId && agent.resume !== false ? request.resumeSessionId : undefined;
    const progress = (step: Parameters<NonNullable<ExecutionContext['progress']>>[0]) => {
      try {
        ctx.progress?.(step);
      } catch (e) {
        ctx.logger.warn('progress listener threw', { error: errorMessage(e) });
      }
    };
    const parser = new ClaudeStreamParser(progress);
    if (resumeId) {
      progress({ kind: 'note', summary: `resuming Claude session ${resumeId}`, turn: 0 });
    }

    let workspace: TaskWorkspace;
    try {
      workspace = await this.workspaces.prepare(request.taskId, agent);
    } catch (e) {
      scoped.dispose();
      return failure('validation', `cannot prepare the task's workspace: ${errorMessage(e)}`, {
        workspace: this.options.workspace ?? this.options.cwd,
      });
    }
    if (workspace.isolated) {
      progress({ kind: 'note', summary: `working on branch ${workspace.branch}`, turn: 0 });
    }

    // The watchdog: any output resets it; silence for stallMs aborts the run as `stalled`.
    const stallMs = this.options.claudeStallMs ?? 300_000;
    const run = new AbortController();
    const onParentAbort = () => run.abort(scoped.signal.reason);
    if (scoped.signal.aborted) run.abort(scoped.signal.reason);
    else scoped.signal.addEventListener('abort', onParentAbort, { once: true });
    let lastOutput = Date.now();
    const watchdog = setInterval(
      () => {
        const silent = Date.now() - lastOutput;
        if (silent >= stallMs) run.abort(new ClaudeStalled(silent));
      },
      Math.max(50, Math.min(1000, Math.floor(stallMs / 4))),
    );
    watchdog.unref();

    let outcome: ClaudeRunOutcome;
    let workspaceOutcome: WorkspaceOutcome | undefined;
    try {
      outcome = await this.runner({
        bin: this.options.claudeBin,
        args: buildClaudeArgs(agent, this.options.claudeSystemPrompt, {
          resumeSessionId: resumeId,
          switchyard: ctx.switchyard,
          maxBudgetUsd: request.budgetLeftUsd,
        }),
        prompt: buildClaudePrompt(request, resumeId !== undefined),
        env,
        cwd: workspace.cwd,
        signal: run.signal,
        killGraceMs: this.options.killGraceMs,
        maxStderrBytes: this.options.commandMaxStderrBytes,
        agent,
        resumeSessionId: resumeId,
        switchyard: agent.mcp !== false ? ctx.switchyard : undefined,
        maxBudgetUsd: request.budgetLeftUsd,
        systemPromptMode: this.options.claudeSystemPrompt,
        onActivity: () => {
          lastOutput = Date.now();
        },
        parser,
      });
    } finally {
      clearInterval(watchdog);
      scoped.signal.removeEventListener('abort', onParentAbort);
      scoped.dispose();
      try {
        workspaceOutcome = await workspace.finish();
      } catch (e) {
        ctx.logger.warn('could not record the task workspace', {
          taskId: request.taskId,
          error: errorMessage(e),
        });
      }
    }
    if (workspaceOutcome) {
      progress({
        kind: 'note',
        summary: `branch ${workspaceOutcome.branch} at ${workspaceOutcome.commit.slice(0, 12)}: ${workspaceOutcome.diffStat || 'no changes'}`,
        turn: parser.turns,
      });
    }
    return this.outcome(request, ctx, parser, outcome, run.signal, {
      resumed: resumeId !== undefined,
      stallMs,
      workspace: workspaceOutcome,
    });
  }

  private outcome(
    request: ExecutionRequest,
    ctx: ExecutionContext,
    parser: ClaudeStreamParser,
    run: ClaudeRunOutcome,
    signal: AbortSignal,
    extra: { resumed: boolean; stallMs: number; workspace?: WorkspaceOutcome },
  ): ExecutionResult {
    const bin = this.options.claudeBin;
    const durationMs = run.durationMs;
    const session = parser.sessionId;
    const common = {
      ...(session && { sessionId: session }),
      resumed: extra.resumed,
      ...(extra.workspace && { workspace: extra.workspace }),
    };
    if (run.spawnError) {
      return failure(
        run.spawnError.code === 'ENOENT' ? 'not_found' : 'validation',
        `cannot start Claude Code (${bin}): ${run.spawnError.message}`,
        { code: run.spawnError.code },
        { durationMs },
      );
    }
    const usage = usageOf(parser.result, durationMs, parser.turns);
    if (run.aborted && !parser.result) {
      const reason: unknown = signal.reason;
      if (reason instanceof ClaudeStalled) {
        return failure(
          'stalled',
          `claude stalled: no output for ${Math.round(extra.stallMs / 1000)} s after ${parser.events} event(s); the process group was killed`,
          { ...common, stallSeconds: extra.stallMs / 1000, events: parser.events },
          usage,
        );
      }
      if (reason instanceof ExecutionAborted && reason.kind === 'timeout') {
        return failure('timeout', 'execution timed out', common, usage);
      }
      return abortFailure(signal, usage);
    }
    if (run.overflow) {
      return failure(
        'output_too_large',
        `claude ${run.overflow} exceeded its cap; the process was killed`,
        { stream: run.overflow },
        { durationMs },
      );
    }
    const result = parser.result;
    if (!result) {
      if (run.exitCode !== 0) {
        const how = run.exitSignal
          ? `was killed by ${run.exitSignal}`
          : `exited with code ${run.exitCode}`;
        const stderrTail = tail(run.stderr.trim());
        return failure(
          'exit_nonzero',
          `claude ${how}${stderrTail ? `: ${tail(stderrTail, 500)}` : ''}`,
          { exitCode: run.exitCode, signal: run.exitSignal, stderrTail, ...common },
          { durationMs },
        );
      }
      return failure(
        'bad_output',
        'claude did not print a JSON result object',
        { stdoutHead: parser.firstBadLine ?? '', events: parser.events },
        { durationMs },
      );
    }
    const text = result.result ?? '';
    if (result.is_error === true || result.subtype !== 'success') {
      const limit = recognizeUsageLimit(result, parser.apiRetries, {
        now: Date.now(),
        backoffMs: this.options.claudeRateLimitBackoffMs ?? 300_000,
      });
      const details = {
        subtype: result.subtype,
        isError: result.is_error ?? false,
        terminalReason: result.terminal_reason ?? null,
        exitCode: run.exitCode,
        ...common,
      };
      if (limit) {
        return failure(
          'rate_limited',
          `claude hit a ${limit.status === 529 ? 'capacity limit (overloaded)' : 'usage/rate limit'}${limit.status ? ` (${limit.status}${limit.errorType ? ` ${limit.errorType}` : ''})` : ''}; retry at ${limit.retryAt}${text ? `: ${tail(text, 300)}` : ''}`,
          { ...details, ...limit },
          usage,
        );
      }
      const type = result.subtype === 'error_max_turns' ? 'max_turns' : 'agent_error';
      return failure(
        type,
        `claude reported an error (subtype ${result.subtype}${result.is_error ? ', is_error' : ''})${text ? `: ${tail(text, 500)}` : ''}`,
        details,
        usage,
      );
    }
    const output: ClaudeOutput = { text };
    const data = extractJson(text);
    if (data !== undefined) output.data = data;
    if (result.session_id) output.sessionId = result.session_id;
    if (extra.resumed) output.resumed = true;
    if (extra.workspace) output.workspace = extra.workspace;
    const denials = result.permission_denials ?? [];
    if (denials.length > 0) {
      output.permissionDenials = denials.map((d) => ({ tool: d.tool_name, input: d.tool_input }));
      const switchyard = denials.filter((d) => d.tool_name.startsWith('mcp__switchyard__'));
      if (switchyard.length > 0) {
        const names = [...new Set(switchyard.map((d) => d.tool_name))].join(', ');
        const warning = `Claude Code refused the Switchyard tool(s) ${names} (no allow rule): the agent could not delegate or share state as asked`;
        output.warnings = [warning];
        ctx.logger.warn(warning, { taskId: request.taskId, agent: ctx.agent.name });
        ctx.progress?.({ kind: 'note', summary: clip(`warning: ${warning}`), turn: parser.turns });
      }
    }
    return { ok: true, output, usage };
  }
}
