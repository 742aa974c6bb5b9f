import { Inject, Injectable } from '@nestjs/common';
import { OBJECT_STORE, type ObjectStore } from './object-store/object-store';

/** Where an archived task lives in the durable store (under S3_PREFIX). */
export const taskObjectKey = (taskId: string): string => `tasks/${taskId}.json`;

/**
 * Finished tasks that left Redis (retention, see QueueMaintenance) as `tasks/{id}.json`, so
 * `GET /v1/tasks/{id}` still finds them. Callers archive before they delete: a failed put throws
 * and the task stays in Redis until a later sweep.
 */
@Injectable()
export class TaskArchiveService {
  constructor(@Inject(OBJECT_STORE) private readonly store: ObjectStore) {}

  async put(taskId: string, record: unknown): Promise<void> {
    await this.store.put(taskObjectKey(taskId), JSON.stringify(record), { kind: 'task-archive' });
  }

  async get<T>(taskId: string): Promise<T | undefined> {
    const object = await this.store.get(taskObjectKey(taskId));
    return object ? (JSON.parse(object.body) as T) : undefined;
  }
}
