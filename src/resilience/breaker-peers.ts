import type { BreakerTransition } from './breaker-state.type';

/** Applies a transition from another instance; returns whether it changed anything here. */
export type ApplyRemoteTransition = (transition: BreakerTransition) => boolean;

/**
 * How breaker transitions reach the other control-plane instances (and theirs reach us). The
 * module provides {@link BreakerSync} (bus + Redis, both required); {@link LocalBreakerPeers}
 * shares nothing and exists for single-process tools and tests that construct a registry by hand.
 */
export abstract class BreakerPeers {
  /** Starts receiving other instances' transitions (and reads the stored ones). */
  abstract start(apply: ApplyRemoteTransition): Promise<void>;
  /** Tells the other instances about a local transition (fire and forget; see whenIdle). */
  abstract share(transition: BreakerTransition): void;
  /** Reads the stored transitions now; returns how many changed something here. */
  abstract syncNow(): Promise<number>;
  /** Resolves once every pending share has settled. */
  abstract whenIdle(): Promise<void>;
  abstract stop(): Promise<void>;
}

/** Shares nothing: breakers of this process only. Never provided by the module. */
export class LocalBreakerPeers extends BreakerPeers {
  start(): Promise<void> {
    return Promise.resolve();
  }
  share(): void {
    // Nobody to tell.
  }
  syncNow(): Promise<number> {
    return Promise.resolve(0);
  }
  whenIdle(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}
