import type { KMSClient } from '@aws-sdk/client-kms';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * moto_server for the AWS suites. The integration globalSetup starts it and
 * exports REKEY_TEST_MOTO_ENDPOINT. When it is missing (never in CI: the setup
 * fails there), `motoEndpoint()` throws a message saying the suite did not run.
 */
export function motoAvailable(): boolean {
  return Boolean(process.env.REKEY_TEST_MOTO_ENDPOINT);
}

export function motoEndpoint(): string {
  const endpoint = process.env.REKEY_TEST_MOTO_ENDPOINT;
  if (!endpoint) {
    throw new Error(
      'NOT RUN: moto_server is not installed, so this KMS/Secrets Manager/SQS suite cannot run (pip install "moto[server]")',
    );
  }
  return endpoint;
}

/** Client config for any @aws-sdk v3 client pointed at moto. */
export function awsClientConfig(): {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
} {
  return {
    endpoint: motoEndpoint(),
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
}

/** Wipes moto's state (all services). */
export async function resetMoto(): Promise<void> {
  await fetch(`${motoEndpoint()}/moto-api/reset`, { method: 'POST' });
}

/**
 * Counts the commands a client sends, by name, at the SDK's initialize step
 * (once per API call): an independent check of the keyrings' own counters.
 */
export function countCommands(client: KMSClient | SecretsManagerClient): {
  counts: Record<string, number>;
  inputs: { command: string; input: unknown }[];
} {
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
