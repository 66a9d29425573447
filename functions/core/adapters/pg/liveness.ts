import pg from 'pg';
import {
  LIVE_WORKER_PREFIX,
  LIVENESS_LOCK_NAMESPACE,
  type LivenessHold,
  type RunnerLiveness,
} from '../../reencrypt/jobs/lease-takeover';
import { pgConnectionOptions } from './connection';
import { mapPgError } from './errors';

/** Names tried for one holder before giving up (another live runner's name hashing to the same lock key). */
const NAME_TRIES = 8;
/** Pause before re-taking the lock on a new session after the liveness session was lost. */
const RECONNECT_MS = 1000;

/**
 * Liveness locks over node-postgres (see reencrypt/lease-takeover.ts): each
 * hold is one dedicated connection, outside the pool, that holds
 * `pg_advisory_lock(ns, hashtext(worker))` for as long as the runner runs.
 * Holds of the same base name in one process share that connection (two
 * runs of one job in one process), counted, so the lock is released with the
 * last one. A liveness session the server drops is re-opened with the same
 * name; until then the runner looks gone and may lose its leases, which the
 * executor's fencing makes harmless.
 */
export function createPgLiveness(options: {
  readonly connectionString: string;
  readonly env?: NodeJS.ProcessEnv;
}): RunnerLiveness & {
  close(): Promise<void>;
} {
  const connection = pgConnectionOptions(options.connectionString, options.env);
  const holds = new Map<string, { worker: string; users: number; session: LockSession }>();

  const open = async (worker: string): Promise<LockSession | undefined> => {
    const client = new pg.Client({
      connectionString: connection.connectionString,
      ssl: connection.ssl,
      application_name: 'rekey-liveness',
    });
    try {
      await client.connect();
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
        LIVENESS_LOCK_NAMESPACE,
        worker,
      ]);
      if (rows[0]?.ok) return new LockSession(client, worker, open);
      await client.end();
      return undefined;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw mapPgError(err);
    }
  };

  return {
    async hold(base: string): Promise<LivenessHold> {
      let entry = holds.get(base);
      if (!entry) {
        for (let i = 0; i < NAME_TRIES && !entry; i++) {
          const worker = `${LIVE_WORKER_PREFIX}${base}${i === 0 ? '' : `~${i}`}`;
          const session = await open(worker);
          if (session) entry = { worker, users: 0, session };
        }
        if (!entry) throw new Error(`no free liveness lock for ${base} after ${NAME_TRIES} names`);
        holds.set(base, entry);
      }
      const held = entry;
      held.users++;
      let released = false;
      return {
        worker: held.worker,
        release: async () => {
          if (released) return;
          released = true;
          if (--held.users > 0) return;
          holds.delete(base);
          await held.session.end();
        },
      };
    },
    async close() {
      const all = [...holds.values()];
      holds.clear();
      await Promise.all(all.map((h) => h.session.end()));
    },
  };
}

/** One liveness session; re-opened (same name) when the server drops it. */
class LockSession {
  private ended = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private client: pg.Client,
    private readonly worker: string,
    private readonly reopen: (worker: string) => Promise<LockSession | undefined>,
  ) {
    this.watch();
  }

  private watch(): void {
    // A dropped session must not crash the process: take the lock again on a new one.
    this.client.on('error', () => this.retry());
    this.client.on('end', () => this.retry());
  }

  private retry(): void {
    if (this.ended || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reopen(this.worker).then(
        (next) => {
          if (!next) return this.retry();
          if (this.ended) return void next.end();
          next.ended = true; // the replacement's client is adopted here
          this.client = next.client;
          this.client.removeAllListeners('error').removeAllListeners('end');
          this.watch();
        },
        () => this.retry(),
      );
    }, RECONNECT_MS);
    this.timer.unref();
  }

  async end(): Promise<void> {
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    await this.client.end().catch(() => undefined);
  }
}
