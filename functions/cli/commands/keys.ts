import type { CatalogKey } from '../../core/keys/catalog-rows';
import type { CatalogKeyringKind } from '../../core/keyring-kinds';
import { shredKey } from '../../core/keys/shred';
import { gateActivation } from '../../core/readers/gate';
import { rollback } from '../../core/reencrypt/verify/rollback';
import { coverage } from '../../core/reencrypt/config/known-tables';
import { valuesNeedingKey } from '../../core/reencrypt/verify/key-counts';
import { verify } from '../../core/reencrypt/verify/verify';
import type { EngineRuntime } from '../../runtime/engine-runtime';
import { EXIT, UsageError, type CliIo, type GlobalOptions } from '../io';
import { progressReporter } from '../progress';
import { actorOf, openSession, printJson } from '../session';

type KeysAction = 'list' | 'add' | 'activate' | 'retire' | 'destroy' | 'rollback';

export interface KeysOptions {
  readonly keyring?: CatalogKeyringKind;
  readonly kmsKeyArn?: string;
  readonly tenant?: string;
  readonly yes?: boolean;
  readonly force?: boolean;
  readonly to?: string;
  readonly batchSize?: number;
  /** activate: wait up to this many seconds for every live reader to report the key. */
  readonly wait?: number;
}

/**
 * `rekey keys …`: the key catalog. Retiring and destroying count the values
 * still under the key first (a verify over every registered table) and refuse
 * while any remain; destroy also asks for --yes, since it is the one
 * irreversible step (crypto-shredding).
 */
export async function keysCommand(
  globals: GlobalOptions,
  action: KeysAction,
  id: string | undefined,
  options: KeysOptions,
  io: CliIo,
): Promise<number> {
  const needsId = action !== 'list' && action !== 'rollback';
  if (needsId && !id) throw new UsageError(`rekey keys ${action} needs a key id`);
  const countsValues = action === 'retire' || action === 'destroy' || action === 'rollback';
  // Rollback is the way out of a keyring/catalog mismatch (a key activated
  // ahead of a deploy that did not happen), so it must not start by refusing
  // that mismatch: it only needs both keys in the keyring.
  const runtime = await openSession(globals, io, { needsRegistry: countsValues, syncCatalog: action === 'list' });
  const actor = actorOf(globals, io);
  try {
    const ctx: KeysContext = { globals, runtime, actor, options, io };
    switch (action) {
      case 'list':
        return await listKeys(ctx);
      case 'add':
        return await addKey(ctx, id!);
      case 'activate':
        return await activateKey(ctx, id!);
      case 'retire':
      case 'destroy':
        return await retireOrDestroyKey(ctx, action, id!);
      case 'rollback':
        return await rollbackToKey(ctx);
    }
  } finally {
    await runtime.close();
  }
}

/** What every `rekey keys` action works with: the session's runtime and who acts. */
interface KeysContext {
  readonly globals: GlobalOptions;
  readonly runtime: EngineRuntime;
  readonly actor: string;
  readonly options: KeysOptions;
  readonly io: CliIo;
}

/** `keys list`: the catalog's keys, a tenant's when --tenant is given. */
async function listKeys({ globals, runtime, options, io }: KeysContext): Promise<number> {
  const keys = await runtime.catalog.list(options.tenant !== undefined ? { tenant: options.tenant } : {});
  if (globals.json) printJson(io, keys);
  else io.stdout(keys.length ? keys.map(formatKey).join('\n') + '\n' : 'The catalog is empty.\n');
  return EXIT.ok;
}

/** `keys add`: a pending key in the catalog, under this keyring's kind unless --keyring says otherwise. */
async function addKey({ globals, runtime, actor, options, io }: KeysContext, id: string): Promise<number> {
  const key = await runtime.catalog.add(
    {
      id,
      keyring: options.keyring ?? runtime.keyring.kind,
      kmsKeyArn: options.kmsKeyArn ?? null,
      tenant: options.tenant ?? null,
    },
    actor,
  );
  return done(io, globals, key, `Added ${key.id} (pending). Activate it with \`rekey keys activate ${key.id}\`.`);
}

/** `keys activate`: behind the rollout gate, then says what the activation means for the deploy. */
async function activateKey({ globals, runtime, actor, options, io }: KeysContext, id: string): Promise<number> {
  const previous = await runtime.catalog.active((await runtime.catalog.require(id)).tenant);
  // The rollout gate: every live reader must be able to decrypt the key before anything encrypts under it.
  const overridden = await gateActivation(runtime.sql, id, {
    actor,
    audit: runtime.audit,
    force: options.force,
    waitSeconds: options.wait,
    exceptReaderIds: runtime.reader ? [runtime.reader.readerId] : [],
    onWait: (lagging) => {
      if (!globals.quiet && !globals.json)
        io.stderr(
          `Waiting for ${lagging.length} reader(s) to report ${id}: ${lagging.map((r) => r.readerId).join(', ')}\n`,
        );
    },
  });
  if (overridden.length > 0)
    io.stderr(
      `WARNING: --force: ${overridden.length} live reader(s) cannot decrypt ${id}: ${overridden.map((r) => r.readerId).join(', ')} (recorded in the audit log)\n`,
    );
  const key = await runtime.catalog.activate(id, actor);
  // Activating ahead of the deploy is allowed (plan in the catalog, then ship the key), but say what it means.
  const deployed = (await runtime.keyIds()).includes(key.id);
  const ahead = deployed
    ? ''
    : `\n${key.id} is not in this keyring: deploy it as the primary key (SECRETS_ENCRYPTION_KEY=${key.id}:…) before applications and rekey can encrypt again, or undo with \`rekey keys rollback --to ${previous?.id ?? '<previous key>'}\`.`;
  return done(
    io,
    globals,
    key,
    `Activated ${key.id}${previous && previous.id !== key.id ? `; ${previous.id} is now rotating — run \`rekey reencrypt\`` : ''}.${ahead}`,
  );
}

/** `keys retire` / `keys destroy`: refused while values remain under the key, unless destroy --force crypto-shreds them. */
async function retireOrDestroyKey(
  { globals, runtime, actor, options, io }: KeysContext,
  action: 'retire' | 'destroy',
  id: string,
): Promise<number> {
  const { remaining, where, gone } = await valuesUnder(runtime, id);
  for (const table of gone) io.stderr(`note: ${table} is no longer in the database; its values are not counted.\n`);
  if (remaining > 0 && !(action === 'destroy' && options.force)) {
    io.stderr(
      `Refusing to ${action} ${id}: ${remaining} values are still under it (${where}). ` +
        `Run \`rekey reencrypt\` on ${where.includes(';') ? 'those tables' : 'that table'} first${action === 'destroy' ? ' (or --force to crypto-shred them)' : ''}.\n`,
    );
    return EXIT.failure;
  }
  if (remaining > 0)
    io.stderr(`WARNING: --force: ${remaining} values under ${id} (${where}) will never decrypt again.\n`);
  if (action === 'destroy' && !options.yes) {
    io.stderr(`Destroying ${id} is irreversible: values under it can never be decrypted again. Repeat with --yes.\n`);
    return EXIT.failure;
  }
  // --force crypto-shreds: a tenant's active or rotating key is walked to destroyed in one audited transaction.
  const key =
    action === 'destroy' && options.force
      ? await shredKey(runtime.sql, id, actor, { valuesUnderKey: remaining })
      : await runtime.catalog.transition(id, action === 'retire' ? 'retired' : 'destroyed', actor, {
          valuesUnderKey: remaining,
        });
  return done(io, globals, key, `${action === 'retire' ? 'Retired' : 'Destroyed'} ${key.id}.`);
}

/** `keys rollback`: back to the previous key (or --to), its values rewrapped by a rollback job (verify/rollback.ts). */
async function rollbackToKey({ globals, runtime, actor, options, io }: KeysContext): Promise<number> {
  const progress = progressReporter(io, Boolean(globals.quiet || globals.json));
  const outcome = await rollback(
    { ...runtime.deps, catalog: runtime.deps.catalog! },
    { toKeyId: options.to, requestedBy: actor, batchSize: options.batchSize },
    { onProgress: progress.update },
  );
  progress.done();
  if (globals.json) printJson(io, { fromKeyId: outcome.fromKeyId, toKeyId: outcome.toKeyId, job: outcome.job });
  else {
    io.stdout(
      `Rolled back from ${outcome.fromKeyId} to ${outcome.toKeyId}: job ${outcome.job.id} ${outcome.job.status}, ${outcome.job.counters.rowsDone} rows rewrapped.\n`,
    );
    io.stdout(
      `Set SECRETS_ENCRYPTION_KEY to ${outcome.toKeyId} for your applications (keep ${outcome.fromKeyId} as previous).\n`,
    );
  }
  return outcome.job.status === 'completed' ? EXIT.ok : EXIT.failure;
}

/**
 * Values under `keyId` in every table that may hold some: the registry's and
 * every table rekey has known (rekey_known_tables), so a narrower config file
 * cannot hide a table that still uses the key.
 */
async function valuesUnder(
  runtime: EngineRuntime,
  keyId: string,
): Promise<{ remaining: number; where: string; gone: readonly string[] }> {
  const tables = await coverage(runtime.sql, runtime.registry);
  const report = await verify(
    { ...runtime.deps, registry: tables.registry },
    { targetKeyId: runtime.primaryKeyId(), fernetTargetKeyId: runtime.fernetPrimaryKeyId() },
  );
  const per = report.tables
    .map((t) => ({
      table: t.table,
      n: (t.values.envelopes[keyId] ?? 0) + (t.values.jsonKeyId[keyId] ?? 0) + (t.values.fernetByKey?.[keyId] ?? 0),
    }))
    .filter((t) => t.n > 0)
    .map(
      (t) => `${t.table}: ${t.n}${tables.remembered.includes(t.table) ? ', a table this config does not list' : ''}`,
    );
  return { remaining: valuesNeedingKey(report, keyId), where: per.join('; '), gone: tables.gone };
}

function done(io: CliIo, globals: GlobalOptions, key: CatalogKey, message: string): number {
  if (globals.json) printJson(io, key);
  else io.stdout(`${message}\n`);
  return EXIT.ok;
}

function formatKey(k: CatalogKey): string {
  return `${k.id.padEnd(16)} ${k.status.padEnd(10)} ${k.keyring.padEnd(13)} ${(k.tenant ?? '(global)').padEnd(12)} created ${k.createdAt.toISOString()}`;
}
