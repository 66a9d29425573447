import { freePort } from './free-port';

/**
 * Embedded PGlite served over the PostgreSQL wire protocol, so the same `pg`
 * code runs against it. PGlite is ONE single-user backend: the socket server
 * accepts several connections but runs one statement at a time and, while a
 * connection is inside a transaction, holds every other connection's
 * statements until it ends. So it is one session shared by all connections
 * (SET and search_path leak between them), and code that holds a
 * transaction open while waiting for another connection waits forever. The
 * harness exports REKEY_TEST_PG_MAX_CONNECTIONS=1 to say so.
 */
export interface PgliteServer {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startPgliteServer(options: { readonly maxConnections?: number } = {}): Promise<PgliteServer> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create();
  const port = await freePort();
  // More than one connection is accepted (statements are queued, transaction-aware): with the package
  // default of 1, a pool reconnecting before the server noticed its previous connection closing is refused.
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: options.maxConnections ?? 64 });
  await server.start();
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () =>
      (stopping ??= (async () => {
        await server.stop();
        await db.close();
      })()),
  };
}
