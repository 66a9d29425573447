/**
 * Fixed-duration throughput measurement: warm up (JIT, pools, caches), then
 * run the operation back to back for `seconds` and count. One operation at a
 * time on one thread, so the figure is per core.
 */
export interface Measurement {
  readonly name: string;
  readonly ops: number;
  readonly seconds: number;
  readonly opsPerSecond: number;
  readonly microsPerOp: number;
}

export interface MeasureOptions {
  readonly seconds: number;
  readonly warmupSeconds: number;
}

export async function measure(name: string, op: () => unknown, options: MeasureOptions): Promise<Measurement> {
  await runFor(op, options.warmupSeconds);
  const { ops, elapsedNs } = await runFor(op, options.seconds);
  const seconds = Number(elapsedNs) / 1e9;
  return { name, ops, seconds, opsPerSecond: ops / seconds, microsPerOp: (seconds * 1e6) / ops };
}

async function runFor(op: () => unknown, seconds: number): Promise<{ ops: number; elapsedNs: bigint }> {
  const budget = BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  let ops = 0;
  let elapsed = 0n;
  // Check the clock every `chunk` operations; a chunk stays well under 1 ms even for the slowest case.
  const chunk = 16;
  while (elapsed < budget) {
    for (let i = 0; i < chunk; i++) {
      const result = op();
      if (result instanceof Promise) await result;
    }
    ops += chunk;
    elapsed = process.hrtime.bigint() - start;
  }
  return { ops, elapsedNs: elapsed };
}
