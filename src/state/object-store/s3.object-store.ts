import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { retryWithBackoff } from './retry-with-backoff.util';
import type { ObjectPage, ObjectStore, StoredObject } from './object-store';

export interface S3StoreOptions {
  bucket: string;
  prefix: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  requestTimeoutMs: number;
  retryAttempts: number;
  retryBaseMs: number;
}

/** Client mistakes S3 will answer the same way every time (except throttling). */
function isRetryable(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status === undefined) return true;
  return status >= 500 || status === 429 || status === 408;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

/**
 * The S3 adapter (AWS or any S3-compatible server). Our own retry with backoff replaces the SDK's
 * so the attempts and delays are configured in one place; checksums are only sent when an
 * operation requires them, which keeps S3-compatible servers that lack them working.
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3';
  readonly location: string;
  private readonly client: S3Client;

  constructor(private readonly options: S3StoreOptions) {
    this.location = `s3://${options.bucket}/${options.prefix}`;
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials:
        options.accessKeyId && options.secretAccessKey
          ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
          : undefined,
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: options.requestTimeoutMs,
        requestTimeout: options.requestTimeoutMs,
      },
    });
  }

  private retry<T>(fn: () => Promise<T>): Promise<T> {
    return retryWithBackoff(fn, {
      attempts: this.options.retryAttempts,
      baseMs: this.options.retryBaseMs,
      retryable: (e) => !isNotFound(e) && isRetryable(e),
    });
  }

  private full = (key: string): string => `${this.options.prefix}${key}`;

  async put(key: string, body: string, metadata: Record<string, string>): Promise<void> {
    await this.retry(() =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.options.bucket,
          Key: this.full(key),
          Body: body,
          ContentType: 'application/json',
          Metadata: metadata,
        }),
      ),
    );
  }

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      return await this.retry(async () => {
        const out = await this.client.send(
          new GetObjectCommand({ Bucket: this.options.bucket, Key: this.full(key) }),
        );
        const body = out.Body ? await out.Body.transformToString('utf8') : '';
        return { body, metadata: out.Metadata ?? {} };
      });
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async head(key: string): Promise<Record<string, string> | undefined> {
    try {
      const out = await this.retry(() =>
        this.client.send(
          new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.full(key) }),
        ),
      );
      return out.Metadata ?? {};
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list(prefix: string, next?: string): Promise<ObjectPage> {
    const out = await this.retry(() =>
      this.client.send(
        new ListObjectsV2Command({
          Bucket: this.options.bucket,
          Prefix: this.full(prefix),
          ContinuationToken: next,
          MaxKeys: 1000,
        }),
      ),
    );
    const skip = this.options.prefix.length;
    return {
      keys: (out.Contents ?? []).flatMap((o) => (o.Key ? [o.Key.slice(skip)] : [])),
      next: out.IsTruncated ? out.NextContinuationToken : undefined,
    };
  }

  async delete(key: string): Promise<void> {
    await this.retry(() =>
      this.client.send(
        new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.full(key) }),
      ),
    );
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
