type Stop = () => Promise<void>;
const g = globalThis as typeof globalThis & { __rekeyTeardown?: Stop[] };

export default async function globalTeardown(): Promise<void> {
  const stops = g.__rekeyTeardown ?? [];
  for (const stop of stops.reverse()) {
    await stop().catch((err: unknown) => process.stderr.write(`[rekey test harness] teardown: ${String(err)}\n`));
  }
}
