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
    throw new Error('NOT RUN: moto_server is not installed, so this KMS/Secrets Manager/SQS suite cannot run (pip install "moto[server]")');
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
