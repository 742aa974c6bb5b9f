/**
 * Secrets the worker holds never reach agent processes (OWASP API8:2023, security
 * misconfiguration): the command executor passes an allow-list of variables, plus the names an
 * operator (WORKER_PASS_ENV) or the agent file (`passEnv`) lists; WORKER_RUN_AS runs the process
 * as another OS user.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAgentFile } from '../../src/agents/agent-loader';
import { loadConfig } from '../../src/config/load-config';
import { CommandExecutor } from '../../src/worker/executors/command.executor';
import { agentProcessEnv } from '../../src/worker/executors/process-runner';
import { agentDef, execContext, testExecutorOptions } from '../support/worker-fixtures';

const WORKER_SECRETS = {
  SWITCHYARD_ADMIN_TOKEN: 'admin-secret-0123456789abcdef',
  SWITCHYARD_API_KEYS: '[{"name":"x","role":"admin","sha256":"00"}]',
  AMQP_URL: 'amqp://user:pass@rabbit:5672',
  REDIS_URL: 'redis://:pass@redis:6379',
  S3_SECRET_ACCESS_KEY: 's3-secret',
  AWS_SECRET_ACCESS_KEY: 'aws-secret',
  AWS_SESSION_TOKEN: 'aws-session',
  OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer otel-secret',
  ANTHROPIC_API_KEY: 'sk-ant-secret',
  GITHUB_TOKEN: 'ghp_secret',
};
const DUMP_ENV = 'process.stdout.write(JSON.stringify(process.env))';

describe('agent process environment', () => {
  const request = { taskId: 't-env', attempt: 0, capability: 'env', payload: null };
  const env = { PATH: process.env.PATH, HOME: '/home/w', LANG: 'C.UTF-8', ...WORKER_SECRETS };

  it('withholds every secret of the worker from a command agent', async () => {
    const agent = agentDef({
      name: 'env',
      executor: 'command',
      command: [process.execPath, '-e', DUMP_ENV],
    });
    const executor = new CommandExecutor(agent.command!, testExecutorOptions({ env }));
    const r = await executor.execute(request, execContext(agent));
    expect(r.ok).toBe(true);
    const child = (r as { output: Record<string, string> }).output;
    for (const name of Object.keys(WORKER_SECRETS)) expect(child[name]).toBeUndefined();
    for (const value of Object.values(WORKER_SECRETS)) {
      expect(JSON.stringify(child)).not.toContain(value);
    }
    expect(child).toMatchObject({
      PATH: process.env.PATH,
      HOME: '/home/w',
      LANG: 'C.UTF-8',
      SWITCHYARD_TASK_ID: 't-env',
      SWITCHYARD_AGENT: 'env',
    });
  });

  it('passes what WORKER_PASS_ENV and the agent file name, and the task credential names', async () => {
    const parsed = parseAgentFile(
      [
        '---',
        'name: env',
        'description: dumps its environment',
        'executor: command',
        `command: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(DUMP_ENV)}]`,
        'passEnv: [GITHUB_TOKEN]',
        '---',
        '',
      ].join('\n'),
      'env.md',
      '/x/env.md',
    );
    if ('reason' in parsed) throw new Error(parsed.reason);
    expect(parsed.passEnv).toEqual(['GITHUB_TOKEN']);
    const config = loadConfig({ WORKER_PASS_ENV: 'ANTHROPIC_API_KEY, NOT_SET' });
    expect(config.worker.passEnv).toEqual(['ANTHROPIC_API_KEY', 'NOT_SET']);
    const executor = new CommandExecutor(
      parsed.command!,
      testExecutorOptions({
        env: { ...env, SWITCHYARD_URL: 'http://cp:3000', SWITCHYARD_TASK_TOKEN: 'task-tok' },
        passEnv: config.worker.passEnv,
      }),
    );
    const r = await executor.execute(request, execContext(parsed));
    const child = (r as { output: Record<string, string> }).output;
    expect(child).toMatchObject({
      GITHUB_TOKEN: 'ghp_secret',
      ANTHROPIC_API_KEY: 'sk-ant-secret',
      SWITCHYARD_URL: 'http://cp:3000',
      SWITCHYARD_TASK_TOKEN: 'task-tok',
    });
    expect(child.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(child.NOT_SET).toBeUndefined();
  });

  it('refuses a passEnv entry that is not a variable name', () => {
    const parsed = parseAgentFile(
      '---\nname: e\ndescription: d\npassEnv: ["A=B"]\n---\n',
      'e.md',
      '/x/e.md',
    );
    expect(parsed).toMatchObject({ reason: expect.stringMatching(/passEnv/) });
    expect(() => loadConfig({ WORKER_PASS_ENV: 'A=B' })).toThrow(/WORKER_PASS_ENV/);
    expect(agentProcessEnv({ 'A=B': 'x', PATH: '/bin' }, { passEnv: ['A=B'] })).toEqual({
      PATH: '/bin',
    });
  });

  it('WORKER_RUN_AS runs the agent process as another OS user', async () => {
    expect(loadConfig({ WORKER_RUN_AS: '65534:65534' }).worker.runAs).toEqual({
      uid: 65534,
      gid: 65534,
    });
    expect(() => loadConfig({ WORKER_RUN_AS: 'nobody' })).toThrow(/WORKER_RUN_AS/);
    if (process.getuid?.() !== 0) {
      console.warn('SKIPPED: WORKER_RUN_AS needs the test to run as root to switch users');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'sy-runas-'));
    try {
      const secret = join(dir, 'worker-only');
      writeFileSync(secret, 'secret', { mode: 0o600 });
      const agent = agentDef({
        name: 'who',
        executor: 'command',
        command: [
          process.execPath,
          '-e',
          `let read='no';try{require('fs').readFileSync(${JSON.stringify(secret)});read='yes'}catch{}
           let sig='no';try{process.kill(${process.pid},0);sig='yes'}catch{}
           process.stdout.write(JSON.stringify({uid:process.getuid(),gid:process.getgid(),read,sig}))`,
        ],
      });
      const executor = new CommandExecutor(
        agent.command!,
        testExecutorOptions({ env, cwd: tmpdir(), runAs: { uid: 65534, gid: 65534 } }),
      );
      const r = await executor.execute(request, execContext(agent));
      expect(r).toMatchObject({
        ok: true,
        output: { uid: 65534, gid: 65534, read: 'no', sig: 'no' },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
