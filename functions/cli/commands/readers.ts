import { listReaders, type ReaderRecord } from '../../core/readers/store';
import { EXIT, type CliIo, type GlobalOptions } from '../io';
import { openSession, printJson } from '../session';

/**
 * `rekey readers [--key ID]`: every process registered with the rollout gate,
 * live first, with what it can decrypt and what it encrypts with. With
 * --key, whether each live reader can read that key; exit 1 when one cannot
 * (scripts can wait on it).
 */
export async function readersCommand(
  globals: GlobalOptions,
  options: { readonly key?: string },
  io: CliIo,
): Promise<number> {
  const runtime = await openSession(globals, io, { needsRegistry: false, syncCatalog: false, reader: false });
  try {
    const readers = await listReaders(runtime.sql);
    const lagging = options.key ? readers.filter((r) => r.live && !r.keyIds.includes(options.key!)) : [];
    if (globals.json) {
      printJson(io, { readers, ...(options.key ? { key: options.key, lagging: lagging.map((r) => r.readerId) } : {}) });
    } else if (readers.length === 0) {
      io.stdout(
        'No reader has registered (applications register with createFieldEncryption({ readers: { sql } }); see docs/readers.md).\n',
      );
    } else {
      io.stdout(`${readers.map((r) => line(r, options.key)).join('\n')}\n`);
      if (options.key)
        io.stdout(
          lagging.length === 0
            ? `Every live reader can decrypt ${options.key}.\n`
            : `${lagging.length} live reader(s) cannot decrypt ${options.key} yet.\n`,
        );
    }
    return lagging.length === 0 ? EXIT.ok : EXIT.failure;
  } finally {
    await runtime.close();
  }
}

function line(r: ReaderRecord, key: string | undefined): string {
  const state = r.live ? 'live ' : 'stale';
  const mark = key === undefined || !r.live ? '' : r.keyIds.includes(key) ? `  reads ${key}` : `  CANNOT read ${key}`;
  return `${state} ${r.readerId}  ${r.kind} on ${r.host}  can decrypt [${r.keyIds.join(', ')}]  encrypts with ${r.primaryKeyId ?? '?'}  keyset ${r.keysetVersion ?? '?'}  seen ${Math.round(r.secondsSinceSeen)} s ago${mark}`;
}
