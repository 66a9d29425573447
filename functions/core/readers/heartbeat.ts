import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Keyring } from '../crypto/keyring';
import { RUNTIME_ENV } from '../environment-names';
import type { KeyPolicy } from '../crypto/key-policy';
import type { Sql } from '../ports/sql';
import { forgetGoneReaders, removeReader, writeHeartbeat, type ReaderReport } from './store';

/** Default seconds between heartbeats: a reader is stale after three missed ones. */
export const DEFAULT_HEARTBEAT_SECONDS = 60;
export const MAX_HEARTBEAT_SECONDS = 3600;
/** `REKEY_READER_HEARTBEAT=off` (or false/0/no) switches heartbeats off in a process. */
export const HEARTBEAT_ENV = 'REKEY_READER_HEARTBEAT';
/** `REKEY_READER_HEARTBEAT_SECONDS=N` sets the interval (1–3600). */
export const HEARTBEAT_SECONDS_ENV = 'REKEY_READER_HEARTBEAT_SECONDS';

export interface HeartbeatOptions {
  readonly sql: Sql;
  readonly kind: ReaderReport['kind'];
  readonly keyring: Keyring;
  /** The policy the process encrypts under (the catalog's); without it, the keyring's primary. */
  readonly policy?: Pick<KeyPolicy, 'encryptionKeyId'> | undefined;
  /** @default REKEY_READER_HEARTBEAT_SECONDS, else 60 */
  readonly intervalSeconds?: number | undefined;
  /** @default the host name (Lambda: the function name) */
  readonly host?: string | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** A heartbeat that fails never stops the process; it is reported here (default: ignored). */
  readonly onError?: ((err: unknown) => void) | undefined;
}

export interface ReaderHeartbeat {
  readonly readerId: string;
  readonly intervalSeconds: number;
  /** Writes a heartbeat now (after a key change, say). Never throws. */
  beat(): Promise<void>;
  /** Stops the timer and removes the row: a process that stopped reads nothing. */
  stop(): Promise<void>;
}

export function heartbeatDisabled(env: NodeJS.ProcessEnv): boolean {
  return /^(off|false|0|no)$/i.test((env[HEARTBEAT_ENV] ?? '').trim());
}

/** The interval from the options or the environment; a bad value is ignored for the default (a heartbeat setting never stops an app). */
function intervalOf(options: HeartbeatOptions, env: NodeJS.ProcessEnv): number {
  const raw = options.intervalSeconds ?? Number(env[HEARTBEAT_SECONDS_ENV] ?? DEFAULT_HEARTBEAT_SECONDS);
  return Number.isFinite(raw) && raw >= 1 && raw <= MAX_HEARTBEAT_SECONDS ? Math.round(raw) : DEFAULT_HEARTBEAT_SECONDS;
}

/**
 * Registers this process as a reader: a heartbeat row written now and every
 * interval (an unref'd timer, so it never keeps a process alive), saying
 * which keys the keyring can decrypt right now (a hierarchical keyring
 * reloads its keyset per TTL, so a new KEK shows up here within one), the
 * keyset version, and the key new values are encrypted with. Cheap: one
 * upsert per interval. Returns undefined when switched off.
 */
export async function startReaderHeartbeat(options: HeartbeatOptions): Promise<ReaderHeartbeat | undefined> {
  const env = options.env ?? process.env;
  if (heartbeatDisabled(env)) return undefined;
  const intervalSeconds = intervalOf(options, env);
  const host = options.host ?? env[RUNTIME_ENV.lambdaFunctionName] ?? hostname();
  const readerId = `${options.kind}:${host}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const onError = options.onError ?? (() => undefined);
  let inFlight: Promise<void> | undefined;
  let stopped = false;

  const describe = async (): Promise<ReaderReport> => {
    const keyIds = [...(await options.keyring.keyIds())];
    const withVersion = options.keyring as Keyring & { versionIdInUse?: () => Promise<string> };
    const keysetVersion =
      typeof withVersion.versionIdInUse === 'function'
        ? await withVersion.versionIdInUse()
        : `ids:${createHash('sha256')
            .update([...keyIds].sort().join(','))
            .digest('hex')
            .slice(0, 12)}`;
    let primaryKeyId: string | null;
    try {
      primaryKeyId = options.policy ? options.policy.encryptionKeyId(null) : await options.keyring.primaryKeyId();
    } catch {
      primaryKeyId = null; // no active key in the catalog yet
    }
    return {
      readerId,
      kind: options.kind,
      host,
      pid: process.pid,
      keyIds,
      keysetVersion,
      primaryKeyId,
      intervalSeconds,
    };
  };

  const beat = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    inFlight ??= (async () => {
      try {
        await writeHeartbeat(options.sql, await describe());
        if (Math.random() < 0.05) await forgetGoneReaders(options.sql);
      } catch (err) {
        onError(err);
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  await beat();
  const timer = setInterval(() => void beat(), intervalSeconds * 1000);
  timer.unref();
  return {
    readerId,
    intervalSeconds,
    beat,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
      await removeReader(options.sql, readerId).catch(onError);
    },
  };
}
