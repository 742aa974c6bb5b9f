import { spawn } from 'node:child_process';
import type { Options, SpawnedProcess, SpawnOptions } from '@anthropic-ai/claude-agent-sdk';
import type { ClaudeRunInput, ClaudeRunner, ClaudeRunOutcome } from './claude-cli.runner';
import { killGroup } from './process-runner';

type AgentSdk = typeof import('@anthropic-ai/claude-agent-sdk');

/**
 * Loads the Agent SDK. It ships as ESM only and we compile to CommonJS, where `import()` becomes
 * `require()`: Node loads ESM that way since 20.19 / 22.12. (Jest's module registry cannot, so
 * the SDK tests run the compiled executor in a plain Node process.)
 */
async function loadSdk(): Promise<AgentSdk> {
  try {
    return await import('@anthropic-ai/claude-agent-sdk');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_REQUIRE_ESM') {
      throw new Error(
        `CLAUDE_RUNNER=sdk needs Node 20.19+ or 22.12+ to load the ESM-only Agent SDK (this is ${process.version})`,
      );
    }
    throw e;
  }
}

/** Agent SDK options for a run: the same settings `buildClaudeArgs` puts on the CLI argv. */
export function sdkOptions(input: ClaudeRunInput): Options {
  const { agent } = input;
  const system = agent.systemPrompt.trim();
  const allowed = [...(agent.tools ?? [])];
  if (input.switchyard && !allowed.includes('mcp__switchyard__*')) {
    allowed.push('mcp__switchyard__*');
  }
  const options: Options = {
    pathToClaudeCodeExecutable: input.bin,
    cwd: input.cwd,
    env: input.env,
    ...(system && {
      systemPrompt:
        input.systemPromptMode === 'append'
          ? { type: 'preset', preset: 'claude_code', append: system }
          : system,
    }),
    ...(allowed.length > 0 && { allowedTools: allowed }),
    ...(agent.disallowedTools.length > 0 && { disallowedTools: agent.disallowedTools }),
    ...(agent.model && agent.model !== 'inherit' && { model: agent.model }),
    ...(agent.maxTurns !== undefined && { maxTurns: agent.maxTurns }),
    ...(agent.permissionMode && {
      permissionMode: agent.permissionMode as NonNullable<Options['permissionMode']>,
    }),
    ...(input.resumeSessionId && { resume: input.resumeSessionId }),
    ...(input.maxBudgetUsd !== undefined && { maxBudgetUsd: input.maxBudgetUsd }),
    ...(input.switchyard && {
      mcpServers: {
        switchyard: {
          type: 'http',
          url: `${input.switchyard.url.replace(/\/+$/, '')}/mcp`,
          headers: { Authorization: `Bearer ${input.switchyard.token}` },
        },
      },
      strictMcpConfig: true,
    }),
  };
  return options;
}

/**
 * Runs the agent through the official Agent SDK (`@anthropic-ai/claude-agent-sdk`, `query()`),
 * feeding each SDK message to the same stream parser as the CLI runner, so the events, the
 * result handling, the stall watchdog and the usage-limit rules are identical. The SDK spawns
 * Claude Code (`pathToClaudeCodeExecutable` = CLAUDE_BIN) through our `spawnClaudeCodeProcess`,
 * which puts it in its own process group so that a cancel, timeout or stall kills everything it
 * started within the kill grace, as with the CLI runner.
 */
export const runClaudeSdk: ClaudeRunner = async (input) => {
  const started = Date.now();
  const stderr: Buffer[] = [];
  let stderrBytes = 0;
  let child: ReturnType<typeof spawn> | undefined;
  let spawnError: NodeJS.ErrnoException | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const controller = new AbortController();
  const onAbort = () => {
    controller.abort(input.signal.reason);
    if (child?.pid !== undefined) {
      killGroup(child.pid, 'SIGTERM');
      const pid = child.pid;
      killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), input.killGraceMs);
    }
  };
  if (input.signal.aborted) {
    return { exitCode: null, exitSignal: null, stderr: '', aborted: true, durationMs: 0 };
  }
  input.signal.addEventListener('abort', onAbort, { once: true });

  const spawnInGroup = (o: SpawnOptions): SpawnedProcess => {
    const proc = spawn(o.command, o.args, {
      cwd: o.cwd,
      env: o.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    child = proc;
    proc.on('error', (e: NodeJS.ErrnoException) => (spawnError = e));
    proc.stdout.on('data', () => input.onActivity());
    proc.stderr.on('data', (chunk: Buffer) => {
      if (stderrBytes + chunk.length <= input.maxStderrBytes) stderr.push(chunk);
      stderrBytes += chunk.length;
    });
    return proc;
  };

  let thrown: unknown;
  try {
    const { query } = await loadSdk();
    const messages = query({
      prompt: input.prompt,
      options: {
        ...sdkOptions(input),
        abortController: controller,
        spawnClaudeCodeProcess: spawnInGroup,
      },
    });
    for await (const message of messages) {
      input.onActivity();
      input.parser.message(message);
    }
  } catch (e) {
    thrown = e;
  } finally {
    input.signal.removeEventListener('abort', onAbort);
    if (killTimer) clearTimeout(killTimer);
    // Whatever the SDK left behind in the group dies with the task.
    if (child?.pid !== undefined) killGroup(child.pid, 'SIGKILL');
  }
  const outcome: ClaudeRunOutcome = {
    exitCode: child?.exitCode ?? (thrown && !input.parser.result ? 1 : 0),
    exitSignal: child?.signalCode ?? null,
    stderr: Buffer.concat(stderr).toString('utf8'),
    aborted: input.signal.aborted,
    durationMs: Date.now() - started,
  };
  if (spawnError) outcome.spawnError = spawnError;
  else if (thrown && !input.parser.result && !input.signal.aborted) {
    // The SDK throws after a non-zero exit (e.g. 429: it printed the result, then exit 1) — the
    // result decides then; without one, its message is the best stderr we have.
    const message = thrown instanceof Error ? thrown.message : JSON.stringify(thrown);
    if (/not found at/i.test(message)) {
      const err: NodeJS.ErrnoException = new Error(message);
      err.code = 'ENOENT';
      outcome.spawnError = err;
    } else outcome.stderr = `${outcome.stderr}${outcome.stderr ? '\n' : ''}${message}`;
  }
  return outcome;
};
