/**
 * The one narrow port through which domain code talks to PostgreSQL. Two
 * adapters implement it: `adapters/pg/sql.ts` (node-postgres) and, for AWS,
 * `adapters/data-api/sql.ts` (RDS Data API). Statements use PostgreSQL
 * positional parameters ($1, $2, ...); adapters translate when they must.
 *
 * Parameter values: string, number, bigint, boolean, null, Buffer (bytea),
 * Date, string[] (text[]), Buffer[] (bytea[]) and plain objects (jsonb).
 */
export type SqlValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Buffer
  | Date
  | readonly string[]
  | readonly Buffer[]
  | readonly (string | null)[]
  | readonly (Buffer | null)[]
  | { readonly [key: string]: unknown };

export interface SqlResult<Row> {
  readonly rows: Row[];
  readonly rowCount: number;
}

/**
 * Size limits of a transport that has them (the RDS Data API). Domain code
 * that reads or writes many rows at once sizes its statements to stay within
 * them; a transport without limits (node-postgres) leaves this undefined and
 * gets one statement per batch.
 */
export interface SqlLimits {
  /** Largest request, parameters included as the transport serializes them. */
  readonly maxRequestBytes: number;
  /** Largest result one statement may return. */
  readonly maxResponseBytes: number;
}

export interface Sql {
  /** @default undefined (no limits) */
  readonly limits?: SqlLimits | undefined;
  query<Row = Record<string, unknown>>(text: string, params?: readonly SqlValue[]): Promise<SqlResult<Row>>;
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
}

/** A Sql that owns connections and must be closed. */
export interface SqlPool extends Sql {
  close(): Promise<void>;
}
