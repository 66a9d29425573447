import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BatchWorkerData } from './batch-worker';

export interface WorkerPoolHandle {
  /** Resolves when every thread has finished; rejects with the first thread error. */
  readonly finished: Promise<void>;
  /** Resolves when every thread has exited on its own (the bench and tests rely on threads not lingering). */
  readonly exited: Promise<void>;
  /** Asks every thread to finish its batch in flight and claim no more (Ctrl-C). */
  stop(): void;
  terminate(): Promise<void>;
}

/** Starts `count` batch-worker threads on a job (see batch-worker.ts). */
export function startBatchWorkers(count: number, data: BatchWorkerData): WorkerPoolHandle {
  // Under tsx (development) the worker is the .ts file and inherits tsx's loader; built, it is the .js beside this file.
  const ts = join(__dirname, 'batch-worker.ts');
  const file = __filename.endsWith('.ts') && existsSync(ts) ? ts : join(__dirname, 'batch-worker.js');
  const workers = Array.from({ length: count }, () =>
    file.endsWith('.ts')
      ? // Worker threads do not inherit tsx's loader: register it in the thread before loading the worker.
        new Worker(
          `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register(); require(${JSON.stringify(file)});`,
          {
            eval: true,
            workerData: data,
          },
        )
      : new Worker(file, { workerData: data }),
  );
  const finished = Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.on('message', (m: { type: string; message?: string }) => {
            if (m.type === 'done') resolve();
            if (m.type === 'error') reject(new Error(`worker thread failed: ${m.message}`));
          });
          w.on('error', reject);
          w.on('exit', () => resolve());
        }),
    ),
  ).then(() => undefined);
  // Observed by the caller later; never an unhandled rejection in between.
  finished.catch(() => undefined);
  const exited = Promise.all(workers.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())))).then(
    () => undefined,
  );
  return {
    finished,
    exited,
    stop: () => {
      for (const w of workers) w.postMessage({ type: 'stop' });
    },
    terminate: async () => void (await Promise.all(workers.map((w) => w.terminate()))),
  };
}
