import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatRawKey, RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import { createFieldEncryption, type FieldEncryption } from '../../../functions/core/field-encryption';
import type { Sql } from '../../../functions/core/ports/sql';
import { runCli } from '../../support/cli';

/**
 * A table of secrets under a chain of raw keys `kek-0`, `kek-1`, … and the
 * `rekey` CLI on it, in-process or as a real child process — what the crash
 * and concurrency scenarios rotate. Values are `rk1:` envelopes of
 * `vault-<id>-<generation>` bound to (vault, secret, id).
 */
export const VAULT = 'vault';
export const COLUMN = 'secret';
export const BIN = join(__dirname, '..', '..', '..', 'bin', 'rekey.ts');

export const ctxOf = (id: number | string): { table: string; column: string; rowId: string } => ({
  table: VAULT,
  column: COLUMN,
  rowId: String(id),
});
export const valueOf = (id: number, generation = 0): string => `vault-${id}-${generation}`;

export interface Vault {
  readonly dir: string;
  readonly url: string;
  readonly keys: readonly Buffer[];
  /** The environment of a CLI whose primary is `kek-<primary>` (older keys decrypt only). */
  env(primary: number, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Field encryption with every key of the chain, `kek-<primary>` encrypting. */
  library(primary: number): Promise<FieldEncryption>;
  /** `rekey --config … <args>` in this process. */
  rekey(primary: number, ...args: string[]): Promise<{ code: number; out: string; err: string }>;
  /** `rekey --config … <args>` as one child process (node with tsx's loader), its output collected. */
  spawnRekey(primary: number, args: readonly string[], extraEnv?: NodeJS.ProcessEnv): SpawnedRekey;
  dispose(): void;
}

export interface SpawnedRekey {
  readonly child: ChildProcess;
  readonly out: () => string;
  readonly err: () => string;
  /** Resolves with the exit code (null) and signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when stderr matches `pattern` (never, if it never does: race it with `exited`). */
  waitFor(pattern: RegExp): Promise<void>;
}

/** Creates the vault table with `rows` secrets under kek-0, and keys kek-0 … kek-<keyCount − 1>. */
export async function seedVault(sql: Sql, url: string, rows: number, keyCount: number): Promise<Vault> {
  const keys = Array.from({ length: keyCount }, () => randomBytes(32));
  await sql.query(`CREATE TABLE ${VAULT} (id bigint PRIMARY KEY, ${COLUMN} text)`);
  const lib = await createFieldEncryption({ keyring: new RawKeyring([{ id: 'kek-0', key: keys[0]! }]) });
  for (let start = 1; start <= rows; start += 2000) {
    const ids: string[] = [];
    const values: string[] = [];
    for (let id = start; id < start + 2000 && id <= rows; id++) {
      ids.push(String(id));
      values.push(await lib.encryptField(valueOf(id), ctxOf(id)));
    }
    await sql.query(`INSERT INTO ${VAULT} SELECT * FROM unnest($1::bigint[], $2::text[])`, [ids, values]);
  }
  const dir = mkdtempSync(join(tmpdir(), 'rekey-reliability-'));
  const config = join(dir, 'rekey.config.json');
  writeFileSync(config, JSON.stringify({ tables: [{ name: VAULT, idColumn: 'id', columns: [COLUMN] }] }));
  const env = (primary: number, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    DATABASE_URL: url,
    SECRETS_ENCRYPTION_KEY: formatRawKey(`kek-${primary}`, keys[primary]!),
    ...(primary > 0
      ? {
          SECRETS_ENCRYPTION_KEY_PREVIOUS: keys
            .slice(0, primary)
            .map((k, i) => formatRawKey(`kek-${i}`, k))
            .reverse()
            .join(','),
        }
      : {}),
    USER: 'reliability',
    ...extra,
  });
  return {
    dir,
    url,
    keys,
    env,
    library: (primary) =>
      createFieldEncryption({
        keyring: new RawKeyring(
          keys.map((key, i) => ({ id: `kek-${i}`, key })),
          `kek-${primary}`,
        ),
      }),
    rekey: (primary, ...args) => runCli(['--config', config, ...args], { env: env(primary), cwd: dir }),
    spawnRekey(primary, args, extraEnv = {}) {
      // tsx's loader in this very process (`tsx/cli` would run the CLI in a grandchild that a SIGKILL of the child leaves running).
      const child = spawn(
        process.execPath,
        ['--require', require.resolve('tsx/cjs'), BIN, '--config', config, ...args],
        {
          cwd: dir,
          env: env(primary, extraEnv),
        },
      );
      let out = '';
      let err = '';
      const waiters: { pattern: RegExp; resolve: () => void }[] = [];
      child.stdout!.on('data', (d: Buffer) => void (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        for (const w of waiters.splice(0)) {
          if (w.pattern.test(err)) w.resolve();
          else waiters.push(w);
        }
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.on('exit', (code, signal) => resolve({ code, signal })),
      );
      return {
        child,
        out: () => out,
        err: () => err,
        exited,
        waitFor: (pattern) =>
          new Promise<void>((resolve) => {
            if (pattern.test(err)) resolve();
            else waiters.push({ pattern, resolve });
          }),
      };
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** What the vault holds against what it should: rows missing, changed (another plaintext) or not decrypting, and rows under another key. */
export interface VaultCheck {
  readonly rows: number;
  readonly lost: number;
  readonly changed: number;
  readonly undecryptable: number;
  readonly notUnderTarget: number;
}

export async function checkVault(
  sql: Sql,
  lib: FieldEncryption,
  expected: ReadonlyMap<number, string>,
  targetKeyId: string,
): Promise<VaultCheck> {
  const { rows } = await sql.query<{ id: string; v: string | null }>(
    `SELECT id::text AS id, ${COLUMN} AS v FROM ${VAULT}`,
  );
  const seen = new Map(rows.map((r) => [Number(r.id), r.v]));
  let lost = 0;
  let changed = 0;
  let undecryptable = 0;
  let notUnderTarget = 0;
  for (const [id, want] of expected) {
    const stored = seen.get(id);
    if (stored === undefined || stored === null) {
      lost++;
      continue;
    }
    try {
      if ((await lib.decryptField(stored, ctxOf(id))) !== want) changed++;
    } catch {
      undecryptable++;
    }
    const kind = lib.kindOf(stored);
    if (kind.keyId !== targetKeyId) notUnderTarget++;
  }
  return { rows: rows.length, lost, changed, undecryptable, notUnderTarget };
}
