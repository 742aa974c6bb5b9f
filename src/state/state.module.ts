import { Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { ConfigService } from '../config/config.service';
import { DistributedLockService } from './lock/distributed-lock.service';
import { LocalDirObjectStore } from './object-store/local-dir.object-store';
import { OBJECT_STORE, type ObjectStore } from './object-store/object-store';
import { S3ObjectStore } from './object-store/s3.object-store';
import { StateAdminController } from './state-admin.controller';
import { StateBackupService } from './state-backup.service';
import { StateSyncService } from './state-sync.service';
import { StateController } from './state.controller';
import { StateStoreHealthIndicator } from './state.health';
import { StateRepository } from './state.repository';
import { StateService } from './state.service';
import { TaskArchiveService } from './task-archive.service';
import { WorkflowArchiveService } from './workflow-archive.service';

/** S3 when configured (or STATE_STORE=s3), else the local directory. No I/O here. */
export function createObjectStore(config: ConfigService): ObjectStore {
  const s = config.state;
  const useS3 = s.store === 's3' || (s.store === 'auto' && s.s3Bucket !== undefined);
  if (!useS3) return new LocalDirObjectStore(s.localDir);
  if (!s.s3Bucket) throw new Error('STATE_STORE=s3 needs S3_BUCKET');
  return new S3ObjectStore({
    bucket: s.s3Bucket,
    prefix: s.s3Prefix,
    region: s.s3Region,
    endpoint: s.s3Endpoint,
    forcePathStyle: s.s3ForcePathStyle,
    accessKeyId: s.s3AccessKeyId,
    secretAccessKey: s.s3SecretAccessKey,
    requestTimeoutMs: s.s3RequestTimeoutMs,
    retryAttempts: s.s3RetryAttempts,
    retryBaseMs: s.s3RetryBaseMs,
  });
}

/**
 * Shared state (design section "state"): versioned documents in Redis with fenced locks,
 * written through to S3 (or a local directory) and reconciled with it.
 */
@Module({
  controllers: [StateController, StateAdminController],
  providers: [
    { provide: OBJECT_STORE, inject: [ConfigService], useFactory: createObjectStore },
    StateRepository,
    DistributedLockService,
    StateSyncService,
    StateService,
    StateBackupService,
    WorkflowArchiveService,
    TaskArchiveService,
    StateStoreHealthIndicator,
  ],
  exports: [
    StateService,
    DistributedLockService,
    WorkflowArchiveService,
    TaskArchiveService,
    StateSyncService,
  ],
})
export class StateModule implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  /** PATCH bodies may be sent as `application/merge-patch+json` (RFC 7386). */
  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify || fastify.hasContentTypeParser('application/merge-patch+json')) return;
    fastify.addContentTypeParser(
      'application/merge-patch+json',
      { parseAs: 'string' },
      (_req, body, done) => {
        try {
          done(null, JSON.parse(body as string) as unknown);
        } catch (e) {
          done(
            new AppException(
              ErrorCode.BadRequest,
              `Malformed merge patch: ${(e as Error).message}`,
            ),
            undefined,
          );
        }
      },
    );
  }
}
