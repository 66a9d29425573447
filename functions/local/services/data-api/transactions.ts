import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { DataApiFault } from './faults';
import { runStatement, type SqlErrorType } from './run-statement';

interface Transaction {
  readonly client: pg.PoolClient;
  timer: NodeJS.Timeout;
  /** A call is running on it: the service refuses another until it ends. */
  busy: boolean;
}

/** The service's answer to a call on a transaction whose earlier call failed. */
const ABORTED = 'Transaction has been aborted due to an error from a previous call';

/**
 * The endpoint's connections as the service hands them out: a transaction id
 * owns one connection until commit, rollback, `idleMs` without a call, or a
 * call that fails (the transaction then ends, and its id answers with the
 * reason); a second call while one runs is refused. Calls outside a
 * transaction autocommit on a pooled connection reset after every call.
 */
export class TransactionTable {
  private readonly open = new Map<string, Transaction>();
  /** Transactions ended after a failed call: their ids answer TransactionNotFoundException with the reason. */
  private readonly aborted = new Set<string>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: { readonly idleMs: number; readonly sqlErrorType: SqlErrorType },
  ) {}

  /** Transactions open now. */
  get size(): number {
    return this.open.size;
  }

  /** BEGIN on a connection of its own; rolled back after `idleMs` without a call. */
  async begin(): Promise<string> {
    const client = await this.pool.connect();
    await client.query('BEGIN');
    const id = randomUUID();
    const timer = setTimeout(() => void this.finish(id, 'ROLLBACK').catch(() => undefined), this.options.idleMs);
    timer.unref();
    this.open.set(id, { client, timer, busy: false });
    return id;
  }

  /** Ends a transaction: COMMIT or ROLLBACK, then its connection is reset and returned to the pool. */
  async finish(id: unknown, verb: 'COMMIT' | 'ROLLBACK'): Promise<string> {
    const tx = this.take(id);
    this.open.delete(id as string);
    clearTimeout(tx.timer);
    try {
      await runStatement(tx.client, verb, [], this.options.sqlErrorType);
    } finally {
      await release(tx.client);
    }
    return verb === 'COMMIT' ? 'Transaction Committed' : 'Rollback Complete';
  }

  /** Runs a call in a transaction, one at a time; a failed call ends the transaction, as the service does. */
  async within<T>(id: unknown, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const tx = this.take(id);
    tx.busy = true;
    try {
      return await fn(tx.client);
    } catch (err) {
      if (err instanceof DataApiFault && this.open.get(id as string) === tx) {
        this.open.delete(id as string);
        this.aborted.add(id as string);
        clearTimeout(tx.timer);
        await tx.client.query('ROLLBACK').catch(() => undefined);
        await release(tx.client);
      }
      throw err;
    } finally {
      tx.busy = false;
    }
  }

  /** Runs an autocommit call on a pooled connection that is reset afterwards: no session state reaches the next call. */
  async autocommit<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await fn(client);
    } finally {
      await release(client);
    }
  }

  /** Rolls back every open transaction, even while a call still runs on it: the pool must get every connection back to end. */
  async rollBackAll(): Promise<void> {
    for (const [id, tx] of [...this.open]) {
      this.open.delete(id);
      clearTimeout(tx.timer);
      await tx.client.query('ROLLBACK').catch(() => undefined);
      tx.client.release(true);
    }
  }

  /** The open transaction `id`, refusing an unknown or ended one and one with a call running. */
  private take(id: unknown): Transaction {
    const tx = typeof id === 'string' ? this.open.get(id) : undefined;
    if (!tx) {
      const why = typeof id === 'string' && this.aborted.has(id) ? `: ${ABORTED}` : '';
      throw new DataApiFault('TransactionNotFoundException', `Transaction ${String(id)} is not found${why}`);
    }
    if (tx.busy) throw new DataApiFault(this.options.sqlErrorType, 'Transaction is still running a query');
    tx.timer.refresh();
    return tx;
  }
}

/** Resets a connection's session (SET, temp tables, prepared statements) before the next call may use it; a connection that cannot be reset is dropped. */
async function release(client: pg.PoolClient): Promise<void> {
  try {
    await client.query('DISCARD ALL');
    client.release();
  } catch (err) {
    client.release(err as Error);
  }
}
