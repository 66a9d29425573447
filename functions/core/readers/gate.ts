import type { AuditSink } from '../reencrypt/ports';
import type { Sql } from '../ports/sql';
import { LateWritersError, ReadersLagError, ReadersWaitTimeoutError } from './errors';
import { listReaders, type ReaderRecord } from './store';

/** Where the readers stand for one key. */
export interface RolloutStatus {
  readonly keyId: string;
  readonly live: readonly ReaderRecord[];
  /** Live readers that cannot decrypt the key. */
  readonly lagging: readonly ReaderRecord[];
  /** Live readers that encrypt new values with the key. */
  readonly writers: readonly ReaderRecord[];
  readonly stale: readonly ReaderRecord[];
}

/** `except`: readers not to judge (the process asking: an operator may activate a key ahead of deploying it to that machine). */
export async function rolloutStatus(sql: Sql, keyId: string, except: readonly string[] = []): Promise<RolloutStatus> {
  const all = (await listReaders(sql)).filter((r) => !except.includes(r.readerId));
  const live = all.filter((r) => r.live);
  return {
    keyId,
    live,
    lagging: live.filter((r) => !r.keyIds.includes(keyId)),
    writers: live.filter((r) => r.primaryKeyId === keyId),
    stale: all.filter((r) => !r.live),
  };
}

export interface ActivationGateOptions {
  /** Activate even though readers lag; recorded in the audit log with their ids. */
  readonly force?: boolean | undefined;
  /** Wait up to this many seconds for the lagging readers to report the key. */
  readonly waitSeconds?: number | undefined;
  /** @default 2,000 ms */
  readonly pollMs?: number | undefined;
  readonly actor: string;
  readonly audit?: AuditSink | undefined;
  /** Called while waiting, with the readers still lagging. */
  readonly onWait?: ((lagging: readonly ReaderRecord[]) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Readers not to judge: the process asking (see rolloutStatus). */
  readonly exceptReaderIds?: readonly string[] | undefined;
}

/**
 * The rollout gate before `keyId` becomes primary: passes when every live
 * reader can decrypt it; otherwise waits (waitSeconds), or passes with
 * `force` and an audit row `key.activation_forced` naming the lagging
 * readers, or throws ReadersLagError naming them. Returns the readers that
 * were overridden (empty when none lagged).
 */
export async function gateActivation(
  sql: Sql,
  keyId: string,
  options: ActivationGateOptions,
): Promise<readonly ReaderRecord[]> {
  const except = options.exceptReaderIds ?? [];
  let status = await rolloutStatus(sql, keyId, except);
  if (status.lagging.length > 0 && options.waitSeconds !== undefined && options.waitSeconds > 0) {
    const deadline = Date.now() + options.waitSeconds * 1000;
    while (status.lagging.length > 0 && Date.now() < deadline && !options.signal?.aborted) {
      options.onWait?.(status.lagging);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(options.pollMs ?? 2000, Math.max(0, deadline - Date.now()))),
      );
      status = await rolloutStatus(sql, keyId, except);
    }
    if (status.lagging.length > 0 && !options.force)
      throw new ReadersWaitTimeoutError(keyId, status.lagging, options.waitSeconds);
  }
  if (status.lagging.length === 0) return [];
  if (!options.force) throw new ReadersLagError(keyId, status.lagging);
  await options.audit?.record(sql, {
    actor: options.actor,
    action: 'key.activation_forced',
    subject: `key:${keyId}`,
    details: { laggingReaders: status.lagging.map((r) => ({ readerId: r.readerId, host: r.host, keyIds: r.keyIds })) },
  });
  return status.lagging;
}

/** The retire gate: throws LateWritersError while a live reader still encrypts with `keyId`. */
export async function assertNoLateWriters(sql: Sql, keyId: string): Promise<void> {
  const { writers } = await rolloutStatus(sql, keyId);
  if (writers.length > 0) throw new LateWritersError(keyId, writers);
}
