import { parentPort, workerData } from 'node:worker_threads';
import { DEFAULT_LEASE_MS, DEFAULT_MAX_ATTEMPTS, executeClaimedBatch } from '../core/reencrypt/batches/batch-executor';
import { BatchLeaseLostError } from '../core/reencrypt/errors';
import { claimNextBatch } from '../core/reencrypt/store/job-store';
import { claimWithRetry } from '../core/reencrypt/jobs/job-runner';
import { createEngineRuntime } from '../runtime/engine-runtime';

/**
 * A worker thread of `rekey reencrypt --concurrency N`: its own database
 * connection, keyring and cipher (crypto is CPU-bound, so parallelism needs
 * threads), claiming batches of the job with SKIP LOCKED exactly as a Lambda
 * worker does, until none is left. The main thread plans, verifies and
 * finishes the job. Only ids and counts cross the thread boundary.
 */
export interface BatchWorkerData {
  readonly jobId: string;
  readonly databaseUrl: string;
  readonly registryJson: string;
  readonly env: Record<string, string>;
  readonly actor: string;
  readonly keyringKind?: 'raw' | 'hierarchical' | 'kms';
  readonly keysetSecretId?: string;
}

async function run(data: BatchWorkerData): Promise<void> {
  const runtime = await createEngineRuntime({
    env: data.env,
    databaseUrl: data.databaseUrl,
    registry: JSON.parse(data.registryJson) as never,
    actor: data.actor,
    poolSize: 2,
    syncCatalog: false,
    ...(data.keyringKind ? { keyringKind: data.keyringKind } : {}),
    ...(data.keysetSecretId ? { keysetSecretId: data.keysetSecretId } : {}),
  });
  // Leased under a name whose liveness lock proves this thread alive (and gone once the process is killed).
  const base = `cli-thread-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const hold = await runtime.deps.liveness?.hold(base);
  const worker = hold?.worker ?? base;
  const deps = { ...runtime.deps, worker };
  // Ctrl-C in the main thread: finish the batch in flight, claim no more.
  let stopping = false;
  parentPort?.on('message', (m: { type?: string }) => {
    if (m.type === 'stop') stopping = true;
  });
  // The listener must not keep the thread alive once its work is done (removing it does not unref the port).
  parentPort?.unref();
  try {
    while (!stopping) {
      const claimed = await claimWithRetry(() =>
        claimNextBatch(runtime.sql, data.jobId, worker, DEFAULT_LEASE_MS, DEFAULT_MAX_ATTEMPTS),
      );
      if (!claimed) break;
      try {
        const result = await executeClaimedBatch(deps, claimed);
        parentPort?.postMessage({ type: 'batch', counts: result.counts });
        if (result.jobStatus !== 'running') break;
      } catch (err) {
        if (err instanceof BatchLeaseLostError) continue;
        // The batch is marked failed and will be claimed again while attempts remain.
      }
    }
  } finally {
    await hold?.release();
    await runtime.close();
  }
}

if (parentPort && workerData) {
  run(workerData as BatchWorkerData).then(
    () => parentPort!.postMessage({ type: 'done' }),
    (err: unknown) =>
      parentPort!.postMessage({
        type: 'error',
        message: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      }),
  );
}
