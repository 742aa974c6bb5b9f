import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import S3rver from 's3rver';

/** A free TCP port on loopback (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface S3TestServer {
  endpoint: string;
  port: number;
  bucket: string;
  /** Env for the control plane (S3_* settings). */
  env: Record<string, string>;
  stop(): Promise<void>;
  /** Starts again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops and deletes the data directory. */
  destroy(): Promise<void>;
}

function s3Env(endpoint: string, bucket: string): Record<string, string> {
  return {
    S3_ENDPOINT: endpoint,
    S3_BUCKET: bucket,
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_FORCE_PATH_STYLE: 'true',
  };
}

/** A real S3-protocol server (s3rver) on loopback with one bucket, data in a temp directory. */
export async function startS3Server(bucket = 'switchyard-test'): Promise<S3TestServer> {
  const port = await freePort();
  const directory = mkdtempSync(join(tmpdir(), 'sy-s3rver-'));
  let server: S3rver | undefined;
  const start = async (): Promise<void> => {
    server = new S3rver({
      address: '127.0.0.1',
      port,
      silent: true,
      directory,
      configureBuckets: [{ name: bucket, configs: [] }],
    });
    await server.run();
  };
  const stop = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (s) await s.close();
  };
  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    bucket,
    env: s3Env(endpoint, bucket),
    stop,
    start,
    destroy: async () => {
      await stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/**
 * The same server in its own process, so its CPU does not share an event loop with the code being
 * measured (benchmarks). `stop`/`start` kill and respawn it on the same port and data.
 */
export async function startS3ServerProcess(bucket = 'switchyard-bench'): Promise<S3TestServer> {
  const port = await freePort();
  const directory = mkdtempSync(join(tmpdir(), 'sy-s3rver-'));
  const script = `
    const S3rver = require('s3rver');
    new S3rver(${JSON.stringify({ address: '127.0.0.1', port, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] })})
      .run().then(() => process.stdout.write('listening\\n'));`;
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const c = spawn(process.execPath, ['-e', script], {
      cwd: join(__dirname, '..', '..', ...(__dirname.includes(`${sep}dist${sep}`) ? ['..'] : [])),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child = c;
    await new Promise<void>((resolve, reject) => {
      c.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('listening')) resolve();
      });
      c.on('exit', (code) => reject(new Error(`s3rver process exited with ${code}`)));
    });
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    bucket,
    env: s3Env(endpoint, bucket),
    stop,
    start,
    destroy: async () => {
      await stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
