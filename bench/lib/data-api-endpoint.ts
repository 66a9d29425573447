/**
 * The PostgreSQL-backed Data API endpoint (functions/local/services/data-api/server.ts)
 * in a process of its own, so the bench measures the adapter against a
 * service that does not share its event loop: in AWS the Data API runs on
 * other machines. Started by startEndpointProcess(); prints its endpoint as
 * one JSON line and serves until its parent goes away.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { startDataApiServer } from '../../functions/local/services/data-api/server';

export interface EndpointProcess {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Forks this file with tsx (the bench's own loader) and waits for its endpoint. */
export async function startEndpointProcess(databaseUrl: string, maxConnections: number): Promise<EndpointProcess> {
  const child: ChildProcess = fork(__filename, [databaseUrl, String(maxConnections)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { endpoint: string }).endpoint));
    child.once('exit', (code) =>
      reject(new Error(`the Data API endpoint process exited (${code}) before it listened`)),
    );
  });
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

if (require.main === module) {
  const [url, connections] = process.argv.slice(2);
  void startDataApiServer(url!, { maxConnections: Number(connections) }).then((server) => {
    process.send?.({ endpoint: server.endpoint });
    const stop = (): void => void server.close().finally(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('disconnect', stop);
  });
}
