import { EventEmitter } from 'node:events';
import { Injectable, Logger } from '@nestjs/common';
import type { SwitchyardEvent, SwitchyardEventType } from './switchyard-event.type';

export type EventListener = (event: SwitchyardEvent) => void;

/** In-process event hub. Listeners must not throw; if one does, it is logged and the rest still run. */
@Injectable()
export class EventsService {
  private readonly logger = new Logger(EventsService.name);
  private readonly emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  emit(
    type: SwitchyardEventType,
    fields: Omit<SwitchyardEvent, 'type' | 'at'> & { at?: string } = {},
  ): void {
    const event: SwitchyardEvent = { ...fields, type, at: fields.at ?? new Date().toISOString() };
    this.publish(event);
  }

  /** Delivers an already-built event (e.g. one received from another instance). */
  publish(event: SwitchyardEvent): void {
    for (const listener of this.emitter.listeners('event') as EventListener[]) {
      try {
        listener(event);
      } catch (e) {
        this.logger.error(`event listener failed on ${event.type}: ${(e as Error).message}`);
      }
    }
  }

  /** Subscribes to every event; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
