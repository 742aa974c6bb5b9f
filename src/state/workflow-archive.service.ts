import { Injectable, Logger } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { StateSyncService } from './state-sync.service';
import { workflowObjectKey } from './state-object-keys.util';

const WORKFLOW_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/**
 * Archives completed workflows to the durable store as `workflows/{id}.json`. When the store is
 * down the record is held in Redis and uploaded by the background job: an archive call that
 * returned is never lost.
 */
@Injectable()
export class WorkflowArchiveService {
  private readonly logger = new Logger(WorkflowArchiveService.name);

  constructor(private readonly sync: StateSyncService) {}

  async archive(workflowId: string, record: unknown): Promise<void> {
    if (!WORKFLOW_ID.test(workflowId)) {
      throw AppException.validation(`Invalid workflow id '${workflowId.slice(0, 100)}'`, [
        {
          field: 'workflowId',
          message: '1-200 characters of [A-Za-z0-9._-], starting with a letter or digit',
        },
      ]);
    }
    const key = workflowObjectKey(workflowId);
    const body = JSON.stringify({ workflowId, archivedAt: new Date().toISOString(), record });
    try {
      await this.sync.store.put(key, body, { kind: 'workflow-archive' });
    } catch (e) {
      this.logger.warn(`archive of workflow ${workflowId} held in Redis: ${(e as Error).message}`);
      await this.sync.holdArchive(key, body);
    }
  }

  /** The archived record, or undefined. */
  async read(workflowId: string): Promise<unknown> {
    const object = await this.sync.store.get(workflowObjectKey(workflowId));
    if (!object) return undefined;
    return (JSON.parse(object.body) as { record: unknown }).record;
  }
}
