import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    env: {
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
    },
    stop,
    start,
    destroy: async () => {
      await stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
