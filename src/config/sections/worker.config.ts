import { z } from 'zod';
import { bool, defineSection, field, int } from '../config-field.util';

export const workerSection = defineSection('worker', 'Agent worker', {
  workerId: field(
    'WORKER_ID',
    z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, . _ - (max 64)')
      .optional(),
    'Name of this worker; its agents register as <agent>@<WORKER_ID> (default: host-pid)',
  ),
  httpPort: field(
    'WORKER_HTTP_PORT',
    int(0, 65535).optional(),
    "Port of the worker's own HTTP server (/health/live, /health/ready, /metrics) for probes and scraping; unset: no server, 0: a free port",
  ),
  httpHost: field(
    'WORKER_HTTP_HOST',
    z.string().min(1).default('0.0.0.0'),
    "Address the worker's HTTP server listens on",
  ),
  heartbeatIntervalMs: field(
    'WORKER_HEARTBEAT_INTERVAL_MS',
    int(100).default(1000),
    'How often the worker heartbeats each of its agents (with its live load)',
  ),
  agentTtlSeconds: field(
    'WORKER_AGENT_TTL_SECONDS',
    int(1).default(5),
    'Heartbeat TTL of worker-hosted agents: a killed worker is noticed (and its tasks retried) this fast',
  ),
  defaultTimeoutMs: field(
    'WORKER_DEFAULT_TIMEOUT_MS',
    int(1).default(300_000),
    'Execution timeout of a task attempt when neither the task nor the agent sets one',
  ),
  killGraceMs: field(
    'WORKER_KILL_GRACE_MS',
    int(0, 60_000).default(500),
    'After SIGTERM to a command/claude process group, how long before SIGKILL',
  ),
  drainTimeoutMs: field(
    'WORKER_DRAIN_TIMEOUT_MS',
    int(0).default(30_000),
    'On SIGTERM, how long in-flight tasks may run before they are aborted and handed back',
  ),
  commandMaxOutputBytes: field(
    'WORKER_COMMAND_MAX_OUTPUT_BYTES',
    int(1).default(4_194_304),
    'Largest stdout a command/claude agent may write (bigger fails with output_too_large)',
  ),
  commandMaxStderrBytes: field(
    'WORKER_COMMAND_MAX_STDERR_BYTES',
    int(1).default(1_048_576),
    'Largest stderr a command/claude agent may write (bigger fails with output_too_large)',
  ),
  httpMaxResponseBytes: field(
    'WORKER_HTTP_MAX_RESPONSE_BYTES',
    int(1).default(4_194_304),
    'Largest response body an http agent may return',
  ),
  httpAllowPrivate: field(
    'WORKER_HTTP_ALLOW_PRIVATE',
    bool().default(true),
    'Let http agents live on private addresses (10/8, 172.16/12, 192.168/16, fc00::/7)',
  ),
  httpAllowLinkLocal: field(
    'WORKER_HTTP_ALLOW_LINK_LOCAL',
    bool().default(false),
    'Let http agents live on link-local addresses (169.254/16, fe80::/10); metadata addresses stay refused',
  ),
  httpAllowLoopback: field(
    'WORKER_HTTP_ALLOW_LOOPBACK',
    bool().default(true),
    'Let http agents live on loopback addresses (127/8, ::1)',
  ),
  claudeBin: field(
    'CLAUDE_BIN',
    z.string().min(1).default('claude'),
    'Claude Code executable used by executor: claude agents (looked up on PATH)',
  ),
  claudeSystemPrompt: field(
    'CLAUDE_SYSTEM_PROMPT_MODE',
    z.enum(['replace', 'append']).default('replace'),
    "replace: the agent body is the whole system prompt (--system-prompt, as for a subagent); append: added to Claude Code's (--append-system-prompt)",
  ),
  claudeRunner: field(
    'CLAUDE_RUNNER',
    z.enum(['cli', 'sdk']).default('cli'),
    'How executor: claude agents run: cli spawns `claude -p --output-format stream-json --verbose`; sdk uses @anthropic-ai/claude-agent-sdk (same events)',
  ),
  claudeStallSeconds: field(
    'CLAUDE_STALL_SECONDS',
    int(1).default(300),
    'A claude run that prints nothing for this long is killed and fails as retryable `stalled` (the next attempt resumes its session)',
  ),
  claudeRateLimitBackoffSeconds: field(
    'CLAUDE_RATE_LIMIT_BACKOFF_SECONDS',
    int(1).default(300),
    'After a usage/rate limit whose result gives no reset time: how long the task and the agent wait',
  ),
  isolation: field(
    'WORKER_ISOLATION',
    z.enum(['none', 'worktree']).default('none'),
    'worktree: each task of a claude agent that can write (Write/Edit/Bash…) runs in its own git worktree of WORKER_WORKSPACE on branch switchyard/<taskId>; none: all share the workspace. An agent file can ask with `isolation: worktree`',
  ),
  workspace: field(
    'WORKER_WORKSPACE',
    z.string().min(1).optional(),
    'Working directory of claude agents (a git repository for worktree isolation; default: the worker directory)',
  ),
  branchRetentionHours: field(
    'WORKER_BRANCH_RETENTION_HOURS',
    int(1).default(168),
    'switchyard/<taskId> branches older than this are deleted when the worker starts',
  ),
  reviewMaxFunctionLines: field(
    'REVIEW_MAX_FUNCTION_LINES',
    int(1).default(60),
    'code-reviewer builtin: functions longer than this many lines are reported',
  ),
  passEnv: field(
    'WORKER_PASS_ENV',
    z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      )
      .pipe(
        z.array(
          z
            .string()
            .regex(
              /^[A-Za-z_][A-Za-z0-9_]{0,127}\*?$/,
              'variable names (NAME_* for a prefix), comma-separated',
            ),
        ),
      ),
    'Extra environment variable names every command/claude agent process inherits (comma-separated; NAME_* for a prefix); besides these only PATH, HOME, USER, LANG, LC_*, TZ, TMPDIR and SWITCHYARD_URL/SWITCHYARD_TASK_TOKEN pass (claude agents also get what Claude Code reads: ANTHROPIC_*, CLAUDE_CODE_*, proxies)',
  ),
  runAs: field(
    'WORKER_RUN_AS',
    z
      .string()
      .regex(/^\d+(:\d+)?$/, 'a numeric uid or uid:gid')
      .transform((v) => {
        const [uid, gid] = v.split(':').map(Number);
        return { uid: uid, ...(gid !== undefined && { gid }) };
      })
      .optional(),
    "Run command/claude agent processes as this OS user (numeric uid or uid:gid; the worker must run as root): they then cannot read the worker's files, /proc/<worker>/environ or signal the worker",
  ),
  reportsDir: field(
    'WORKER_REPORTS_DIR',
    z.string().min(1).default('reports'),
    'doc-writer builtin: the only directory it writes reports to (relative to the worker directory); the default file when the task gives no outPath',
  ),
  switchyardUrl: field(
    'SWITCHYARD_URL',
    z.url().optional(),
    "Control-plane URL this worker's agents use to delegate and share state (MCP at <url>/mcp, REST at <url>/v1; default http://127.0.0.1:$PORT)",
    { example: 'http://switchyard.internal:3000' },
  ),
  delegationHeadroom: field(
    'WORKER_DELEGATION_HEADROOM',
    int(0, 1000).default(8),
    'Extra deliveries an agent accepts beyond maxConcurrency for tasks of a delegation tree it is already running (so a parent waiting on its children never starves them)',
  ),
});
