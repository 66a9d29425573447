import { freePort } from './free-port';

/**
 * Embedded PGlite served over the PostgreSQL wire protocol, so the same `pg`
 * code runs against it. It serves ONE connection at a time: pools must be
 * size 1 (the harness exports REKEY_TEST_PG_MAX_CONNECTIONS=1).
 */
export async function startPgliteServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create();
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1' });
  await server.start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
}
