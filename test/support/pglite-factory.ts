import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startPgliteServer, type PgliteServer } from '../../functions/local/services/pglite-server';

/**
 * On the PGlite fallback every test file needs a database of its own, but
 * PGlite cannot be loaded inside jest's module sandbox and one PGlite is one
 * shared session (a per-file search_path would leak between files). So the
 * globalSetup process runs this small loopback HTTP service, and
 * freshDatabase() asks it for a new PGlite instance per call:
 *   POST   /databases      → 201 {"id": "…", "url": "postgres://…"}
 *   DELETE /databases/<id> → 204 (instance stopped)
 */
export interface PgliteFactory {
  /** Base URL of the service (REKEY_TEST_PGLITE_FACTORY). */
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startPgliteFactory(): Promise<PgliteFactory> {
  const instances = new Map<string, PgliteServer>();
  let next = 1;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method === 'POST' && req.url === '/databases') {
      const id = String(next++);
      const instance = await startPgliteServer();
      instances.set(id, instance);
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id, url: instance.url }));
      return;
    }
    const match = /^\/databases\/(\d+)$/.exec(req.url ?? '');
    if (req.method === 'DELETE' && match) {
      const instance = instances.get(match[1]!);
      instances.delete(match[1]!);
      await instance?.stop();
      res.writeHead(instance ? 204 : 404).end();
      return;
    }
    res.writeHead(404).end();
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res
        .writeHead(500, { 'content-type': 'text/plain' })
        .end(`PGlite factory: ${err instanceof Error ? err.message : String(err)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...instances.values()].map((i) => i.stop()));
      instances.clear();
    },
  };
}

/** Client side, used by freshDatabase(): a new PGlite instance from the factory at `endpoint`. */
export async function requestPgliteDatabase(endpoint: string): Promise<{ url: string; drop(): Promise<void> }> {
  const res = await fetch(`${endpoint}/databases`, { method: 'POST' });
  if (res.status !== 201)
    throw new Error(`the PGlite factory could not create a database (HTTP ${res.status}): ${await res.text()}`);
  const { id, url } = (await res.json()) as { id: string; url: string };
  return {
    url,
    drop: async () => {
      const del = await fetch(`${endpoint}/databases/${id}`, { method: 'DELETE' });
      if (del.status !== 204) throw new Error(`the PGlite factory could not drop database ${id} (HTTP ${del.status})`);
    },
  };
}
