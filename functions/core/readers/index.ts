/**
 * The rollout gate (docs/readers.md): processes that decrypt rekey values
 * register as readers with a heartbeat; a key becomes primary only when every
 * live reader can decrypt it, and is retired only when no live reader still
 * encrypts with it.
 */
export {
  startReaderHeartbeat,
  heartbeatDisabled,
  DEFAULT_HEARTBEAT_SECONDS,
  HEARTBEAT_ENV,
  HEARTBEAT_SECONDS_ENV,
} from './heartbeat';
export type { ReaderHeartbeat, HeartbeatOptions } from './heartbeat';
export { listReaders, writeHeartbeat, removeReader, STALE_AFTER_INTERVALS } from './store';
export type { ReaderRecord, ReaderReport } from './store';
export { rolloutStatus, gateActivation, assertNoLateWriters } from './gate';
export type { RolloutStatus, ActivationGateOptions } from './gate';
export * from './errors';
