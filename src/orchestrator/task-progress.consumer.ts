import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { AgentMessage } from '../bus/agent-message.schema';
import { MessageBus, type Subscription } from '../bus/message-bus';
import { TASK_PROGRESS_DESTINATION, taskProgressMessageSchema } from '../bus/task-progress.schema';
import { EventsService } from '../events/events.service';
import { TaskProgressStore } from './task-progress.store';

/** How long stored steps live after the last one (a week: longer than any task's retention). */
const PROGRESS_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Control-plane side of task progress (issue 13): consumes the batches workers send to
 * `agent.switchyard.progress` (one instance takes each batch), stores the steps on the task
 * ({@link TaskProgressStore}: last 200 / 256 KiB) and emits one `task.progress` event per step
 * on the live feed (`data`: attempt, seq, kind, summary, turn, data). Self-contained: add it,
 * {@link TaskProgressStore} and {@link TaskProgressController} to a module that has the bus,
 * Redis and events.
 */
@Injectable()
export class TaskProgressConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(TaskProgressConsumer.name);
  private subscription?: Subscription;
  readonly stats = { batches: 0, steps: 0, rejected: 0 };

  constructor(
    private readonly bus: MessageBus,
    private readonly store: TaskProgressStore,
    private readonly events: EventsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.subscription = await this.bus.subscribe(TASK_PROGRESS_DESTINATION, (m) => this.handle(m), {
      prefetch: 64,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscription?.cancel().catch(() => undefined);
    this.subscription = undefined;
  }

  /** Handles one bus message (public for tests that drive it without a broker). */
  async handle(message: AgentMessage): Promise<void> {
    const parsed = taskProgressMessageSchema.safeParse(message.payload);
    if (message.messageType !== 'control' || !parsed.success) {
      this.stats.rejected++;
      this.logger.warn(
        `ignored a malformed task progress message from ${message.fromAgent}: ${parsed.error?.issues[0]?.message ?? message.messageType}`,
      );
      return;
    }
    const p = parsed.data;
    await this.store.append(p.taskId, p.attempt, p.steps, PROGRESS_TTL_SECONDS);
    this.stats.batches++;
    for (const step of p.steps) {
      this.stats.steps++;
      this.events.emit('task.progress', {
        at: step.at,
        taskId: p.taskId,
        agentId: p.agentId,
        data: { attempt: p.attempt, ...step },
      });
    }
  }
}
