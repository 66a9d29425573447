import { RekeyError } from '../errors';
import type { ReaderRecord } from './store';

/** Base of the rollout gate's errors. */
export abstract class ReaderGateError extends RekeyError {}

function describe(readers: readonly ReaderRecord[]): string {
  return readers
    .map(
      (r) =>
        `${r.readerId} (${r.kind} on ${r.host}; can read ${r.keyIds.join(', ') || 'nothing'}; encrypts with ${r.primaryKeyId ?? 'unknown'}; seen ${r.secondsSinceSeen.toFixed(0)} s ago)`,
    )
    .join('; ');
}

/** Live readers cannot decrypt the key about to become primary: activating it now would break them. */
export class ReadersLagError extends ReaderGateError {
  readonly code = 'READERS_LAG';
  constructor(
    readonly keyId: string,
    readonly lagging: readonly ReaderRecord[],
  ) {
    super(
      `${lagging.length} live reader${lagging.length === 1 ? '' : 's'} cannot decrypt ${keyId} yet: ${describe(lagging)}. ` +
        `Deploy ${keyId} to ${lagging.length === 1 ? 'it' : 'them'} as a decrypt-only key first, then retry (or --wait; --force overrides and is audited).`,
    );
  }
}

/** Live readers still encrypt new values with the key being retired: they would keep writing under it. */
export class LateWritersError extends ReaderGateError {
  readonly code = 'LATE_WRITERS';
  constructor(
    readonly keyId: string,
    readonly writers: readonly ReaderRecord[],
  ) {
    super(
      `${writers.length} live reader${writers.length === 1 ? '' : 's'} still encrypt${writers.length === 1 ? 's' : ''} new values with ${keyId}: ${describe(writers)}. ` +
        `Move ${writers.length === 1 ? 'it' : 'them'} to the new primary key (redeploy or restart) before retiring ${keyId}.`,
    );
  }
}

/** `--wait` ran out of time with readers still lagging. */
export class ReadersWaitTimeoutError extends ReaderGateError {
  readonly code = 'READERS_WAIT_TIMEOUT';
  constructor(
    readonly keyId: string,
    readonly lagging: readonly ReaderRecord[],
    seconds: number,
  ) {
    super(
      `waited ${seconds} s and ${lagging.length} live reader${lagging.length === 1 ? '' : 's'} still cannot decrypt ${keyId}: ${describe(lagging)}`,
    );
  }
}
