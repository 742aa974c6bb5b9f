import { Injectable, Logger } from '@nestjs/common';
import type { SwitchyardEvent, SwitchyardEventType } from './switchyard-event.type';

export type EventListener = (event: SwitchyardEvent) => void;

/** In-process event hub. Listeners must not throw; if one does, it is logged and the rest still run. */
@Injectable()
export class EventsService {
  private readonly logger = new Logger(EventsService.name);
  /** Replaced, never mutated: a publish iterates the list as it was when it started. */
  private listeners: readonly EventListener[] = [];

  emit(
    type: SwitchyardEventType,
    fields: Omit<SwitchyardEvent, 'type' | 'at'> & { at?: string } = {},
  ): void {
    const event: SwitchyardEvent = { ...fields, type, at: fields.at ?? new Date().toISOString() };
    this.publish(event);
  }

  /** Delivers an already-built event (e.g. one received from another instance). */
  publish(event: SwitchyardEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (e) {
        this.logger.error(`event listener failed on ${event.type}: ${(e as Error).message}`);
      }
    }
  }

  /** Subscribes to every event; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      const i = this.listeners.lastIndexOf(listener);
      if (i >= 0) this.listeners = this.listeners.filter((_, j) => j !== i);
    };
  }
}
