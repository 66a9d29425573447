import type { ExecutorDeps } from './batches/batch-executor';
import type { RunnerLiveness } from './jobs/lease-takeover';
import type { KeyLifecycle } from './ports';

/**
 * Everything the engine runs on, built once per process (CLI, Lambda worker,
 * test) and passed down: the Sql pool, the registry, the value crypto, and
 * optionally the blind indexer, the audit sink, the key catalog (for retire
 * and rollback) and test fault hooks.
 */
export interface EngineDeps extends ExecutorDeps {
  /** Rows per page of keyset walks (planner scan, verify). Default 2,000. */
  readonly pageSize?: number | undefined;
  /** The key catalog: retire after a clean verify, rollback. Without it, keys are left as they are. */
  readonly catalog?: KeyLifecycle | undefined;
  /**
   * Called after the engine changed which key is active (rollback), so the
   * caller reloads the key policy its cipher checks (KeyCatalog.policy() is a
   * snapshot): the rewrap that follows must be allowed to encrypt under the
   * newly active key.
   */
  readonly refreshKeys?: (() => Promise<void>) | undefined;
  /**
   * Liveness locks (lease-takeover.ts): a runner holding one can be proven
   * gone after a crash, so a resumed run takes its leases over at once.
   * Without it, other holders' leases are waited for until they expire.
   */
  readonly liveness?: RunnerLiveness | undefined;
}
