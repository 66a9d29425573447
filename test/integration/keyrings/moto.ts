import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * moto_server for the keyring suites. Uses REKEY_TEST_MOTO_ENDPOINT when the
 * shared harness (jest globalSetup) has exported one; otherwise starts a
 * moto_server of its own on a free loopback port for this test file.
 * A missing moto_server fails the suite: these tests are never skipped.
 *
 * TODO(harness): switch to test/support/aws.ts (motoEndpoint, awsClientConfig) once it lands.
 */
export interface Moto {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startMoto(): Promise<Moto> {
  const shared = process.env.REKEY_TEST_MOTO_ENDPOINT;
  if (shared) return { endpoint: shared, stop: async () => {} };
  const port = await freePort();
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new Error(`moto_server could not be started (is it on PATH?): ${err.message}`))),
  );
  await Promise.race([waitUntilUp(endpoint, child), spawnError]);
  return { endpoint, stop: () => stop(child) };
}

export function awsConfig(endpoint: string): {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
} {
  return { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
}

/**
 * Counts the commands a client sends, by name, at the SDK's initialize step
 * (once per API call): an independent check of the keyrings' own counters.
 */
export function countCommands(client: KMSClient | SecretsManagerClient): { counts: Record<string, number>; inputs: { command: string; input: unknown }[] } {
  const counts: Record<string, number> = {};
  const inputs: { command: string; input: unknown }[] = [];
  // Both clients share the middleware stack shape; the union just is not callable as typed.
  (client.middlewareStack as KMSClient['middlewareStack']).add(
    (next, context) => async (args) => {
      const command = context.commandName ?? 'unknown';
      counts[command] = (counts[command] ?? 0) + 1;
      inputs.push({ command, input: args.input });
      return next(args);
    },
    { step: 'initialize', name: 'rekeyTestCommandCounter' },
  );
  return { counts, inputs };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(endpoint: string, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode} before it answered`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`moto_server did not answer on ${endpoint} within 20 s`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
