import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort, sleep } from './processes';

export const DEPLOY = join(__dirname, '..', '..', 'deploy');
const TAIL = 8192;

/**
 * A Prometheus or Alertmanager binary run by a test: its own temp dir and free port, the tail of
 * its output kept for failure messages, stopped (SIGTERM, then SIGKILL) by `stop()`.
 */
export class ToolProcess {
  private output = '';
  private readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    readonly url: string,
    readonly dir: string,
    private readonly child: ChildProcess,
  ) {
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-TAIL);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get log(): string {
    return this.output;
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) break;
      try {
        if ((await fetch(`${this.url}/-/ready`)).ok) return;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    throw new Error(`${this.name} did not become ready; its output:\n${this.output}`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const force = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(force);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The project's deploy/prometheus/prometheus.yml made runnable on this machine: each job's DNS
 * discovery replaced by the test's targets (jobs without targets dropped), the rule file by an
 * absolute path to the project's alerts.yml, intervals shortened, and the test's Alertmanager.
 */
export function testPrometheusConfig(opts: {
  targets: Record<string, string[]>;
  alertmanager?: string;
  intervalSeconds?: number;
}): string {
  const base = parse(readFileSync(join(DEPLOY, 'prometheus', 'prometheus.yml'), 'utf8')) as {
    global: Record<string, unknown>;
    rule_files: string[];
    alerting?: unknown;
    scrape_configs: Record<string, unknown>[];
  };
  const interval = `${opts.intervalSeconds ?? 1}s`;
  base.global = { ...base.global, scrape_interval: interval, evaluation_interval: interval };
  base.rule_files = base.rule_files.map((f) => join(DEPLOY, 'prometheus', f));
  base.scrape_configs = base.scrape_configs
    .filter((job) => opts.targets[job.job_name as string]?.length)
    .map((job) => {
      const { dns_sd_configs: _dns, static_configs: _static, ...rest } = job;
      return { ...rest, static_configs: [{ targets: opts.targets[job.job_name as string] }] };
    });
  if (opts.alertmanager) {
    base.alerting = { alertmanagers: [{ static_configs: [{ targets: [opts.alertmanager] }] }] };
  } else {
    delete base.alerting;
  }
  return stringify(base);
}

export async function startPrometheus(config: string): Promise<ToolProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-prometheus-'));
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const p = new ToolProcess('prometheus', `http://127.0.0.1:${port}`, dir, child);
  await p.waitReady();
  return p;
}

/**
 * The project's deploy/alertmanager/alertmanager.yml with every webhook pointed at `webhookBase`
 * (keeping each receiver's path) and grouping waits shortened to 1 s.
 */
export function testAlertmanagerConfig(webhookBase: string): string {
  const base = parse(readFileSync(join(DEPLOY, 'alertmanager', 'alertmanager.yml'), 'utf8')) as {
    route: Record<string, unknown>;
    receivers: { name: string; webhook_configs?: { url: string }[] }[];
  };
  base.route = { ...base.route, group_wait: '1s', group_interval: '1s' };
  for (const r of base.receivers) {
    for (const w of r.webhook_configs ?? []) w.url = `${webhookBase}${new URL(w.url).pathname}`;
  }
  return stringify(base);
}

export async function startAlertmanager(config: string): Promise<ToolProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-alertmanager-'));
  writeFileSync(join(dir, 'alertmanager.yml'), config);
  const port = await freePort();
  const child = spawn(
    'prometheus-alertmanager',
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const p = new ToolProcess('alertmanager', `http://127.0.0.1:${port}`, dir, child);
  await p.waitReady();
  return p;
}

/** One notification Alertmanager posted to the webhook receiver (its JSON body and path). */
export interface WebhookNotification {
  path: string;
  body: {
    receiver: string;
    status: 'firing' | 'resolved';
    alerts: {
      status: string;
      labels: Record<string, string>;
      annotations: Record<string, string>;
    }[];
  };
}

/** An HTTP server that records every POST it receives, as Alertmanager's webhook receiver. */
export async function startWebhookReceiver(): Promise<{
  url: string;
  received: WebhookNotification[];
  close: () => Promise<void>;
}> {
  const received: WebhookNotification[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        received.push({
          path: req.url ?? '/',
          body: JSON.parse(Buffer.concat(chunks).toString()) as WebhookNotification['body'],
        });
        res.writeHead(200).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** GET a Prometheus HTTP API path; throws with Prometheus' error text when it answers an error. */
export async function promApi<T>(base: string, path: string): Promise<T> {
  const res = await fetch(`${base}${path}`);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? res.status}`);
  return body.data;
}
