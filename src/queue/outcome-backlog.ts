import { Logger } from '@nestjs/common';
import { ReplyError } from 'ioredis';
import { ReplicationTimeoutError } from '../redis/replica-ack';

/** Most outcomes held while Redis is away (beyond it, new ones wait for room: back-pressure). */
const MAX_HELD = 10_000;
const MAX_BACKOFF_MS = 1000;

/**
 * Outcomes of finished attempts whose write failed because Redis could not be reached (a restart,
 * a failover): held in memory, in order, and retried until Redis answers, so a task that already
 * ran does not sit RUNNING until its timeout and run again. Only connection-level errors are
 * held (a script's own refusal is an answer, not an outage; LOADING/READONLY after a restart or
 * failover are outages, and so is a WAIT that timed out under REDIS_MIN_REPLICAS_ACK).
 */
export class OutcomeBacklog {
  private readonly logger = new Logger(OutcomeBacklog.name);
  private readonly held: { label: string; write: () => Promise<void> }[] = [];
  private draining?: Promise<void>;
  private closed = false;
  /** Outcomes applied after having been held. */
  recovered = 0;

  get size(): number {
    return this.held.length;
  }

  /** Writes now; on an outage, holds the write (after any held before it) until Redis is back. */
  async apply(label: string, write: () => Promise<void>): Promise<void> {
    if (this.held.length === 0) {
      try {
        await write();
        return;
      } catch (e) {
        if (!isOutage(e)) throw e;
        this.logger.warn(`${label}: outcome held until Redis answers (${(e as Error).message})`);
      }
    }
    while (this.held.length >= MAX_HELD && !this.closed) await sleep(100);
    this.held.push({ label, write });
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  /** Resolves once nothing is held (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.draining) await this.draining;
  }

  close(): void {
    this.closed = true;
  }

  private async drain(): Promise<void> {
    let backoff = 50;
    while (this.held.length > 0 && !this.closed) {
      const next = this.held[0];
      try {
        await next.write();
        this.held.shift();
        this.recovered++;
        backoff = 50;
      } catch (e) {
        if (!isOutage(e)) {
          this.held.shift();
          this.logger.warn(`${next.label}: held outcome refused: ${(e as Error).message}`);
          continue;
        }
        await sleep(backoff);
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      }
    }
    if (this.held.length > 0) {
      this.logger.warn(
        `${this.held.length} held outcome(s) dropped at shutdown; the reconciler retries those tasks`,
      );
    }
  }
}

/** Errors ioredis raises while Redis cannot be reached (never a script's answer). */
const OUTAGE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);
const OUTAGE_MESSAGES = [
  /connection is closed/i,
  /command timed out/i,
  /stream isn't writeable/i,
  /LOADING/,
];

function isOutage(e: unknown): boolean {
  // Applied on the master, not yet on enough replicas: write again until it is confirmed.
  if (e instanceof ReplicationTimeoutError) return true;
  if (e instanceof ReplyError) return /LOADING|READONLY|MASTERDOWN/.test((e as Error).message);
  const err = e as { name?: string; code?: string; message?: string } | null;
  if (!err) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  if (err.code && OUTAGE_CODES.has(err.code)) return true;
  return OUTAGE_MESSAGES.some((re) => re.test(err.message ?? ''));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
