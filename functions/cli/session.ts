import { RUNTIME_ENV } from '../core/environment-names';
import { cliEngineRuntime } from '../runtime/cli-container';
import type { EngineRuntime, EngineRuntimeOptions } from '../runtime/engine-runtime';
import { rolloutStatus } from '../core/readers/gate';
import { EXIT, type CliIo, type GlobalOptions } from './io';

/** What every command that touches the database starts with: the runtime and the start-up lines. */
export async function openSession(
  globals: GlobalOptions,
  io: CliIo,
  extra: Partial<EngineRuntimeOptions> = {},
): Promise<EngineRuntime> {
  const runtime = await cliEngineRuntime(globals, io.env, {
    actor: actorOf(globals, io),
    // The CLI decrypts too: it is a reader of the rollout gate while it runs (removed when it exits).
    reader: 'cli',
    ...extra,
  });
  if (!globals.quiet && !globals.json) {
    // Key ids and where we are connected; never key material.
    const ids = await runtime.keyIds();
    io.stderr(`Encryption service initialized. Primary key: ${runtime.primaryKeyId()}\n`);
    io.stderr(`Available keys: ${JSON.stringify(ids)}\n`);
    for (const change of runtime.catalogChanges) io.stderr(`Key catalog: ${change}\n`);
    const c = runtime.connection;
    if (c) {
      io.stderr(
        `Connected to database ${c.host}:${c.port}/${c.database} (${c.tls ? `TLS, sslmode=${c.sslmode}` : 'no TLS'})\n`,
      );
    }
  }
  await warnLaggingReaders(runtime, io);
  const c = runtime.connection;
  if (c && !c.tls && !c.loopback) {
    io.stderr(
      `WARNING: the connection to ${c.host} is not encrypted (sslmode=${c.sslmode}). ` +
        'Add ?sslmode=verify-full&sslrootcert=/path/to/ca.pem to the database URL.\n',
    );
  }
  return runtime;
}

export function actorOf(globals: GlobalOptions, io: CliIo): string {
  return globals.actor ?? io.env[RUNTIME_ENV.actor] ?? io.env.USER ?? 'rekey-cli';
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}

export { EXIT };

/**
 * A process started with a new primary key registers it (catalog sync) —
 * the one-phase deploy. The gate does not stop that process (it *is* the
 * deploy), but the operator hears at once which live readers cannot read the
 * key it now encrypts with (docs/readers.md has the safe order).
 */
async function warnLaggingReaders(runtime: EngineRuntime, io: CliIo): Promise<void> {
  const change = runtime.catalogChanges.find((x) => /^(would )?(register(ed)? \S+ \(active\)|activate(d)? )/.test(x));
  if (!change) return;
  const key = runtime.primaryKeyId();
  const { lagging } = await rolloutStatus(runtime.sql, key, runtime.reader ? [runtime.reader.readerId] : []).catch(
    () => ({ lagging: [] }),
  );
  if (lagging.length === 0) return;
  io.stderr(
    `WARNING: ${lagging.length} live reader(s) cannot decrypt ${key}, which ${change.startsWith('would') ? 'would become' : 'is now'} the primary key: ` +
      `${lagging.map((r) => `${r.readerId} (${r.host})`).join(', ')}. Deploy ${key} to them as a decrypt-only key first (docs/readers.md).\n`,
  );
}
