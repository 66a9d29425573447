import { ENV, RUNTIME_ENV } from '../../core/environment-names';
import { promoteKeysetKey } from '../../core/rotation/promote';
import { cliAws } from '../../runtime/cli-container';
import { EXIT, UsageError, type CliIo, type GlobalOptions } from '../io';
import { actorOf, openSession, printJson } from '../session';

/**
 * `rekey keys promote ID`: phase two of a two-phase keyset rotation
 * (docs/readers.md) — the KEK the rotation published decrypt-only becomes the
 * keyset's primary once every live reader reports it (--wait, --force), is
 * activated, and its rewrap starts on the state machine (STATE_MACHINE_ARN),
 * or is left to `rekey reencrypt`.
 */
export async function promoteCommand(
  globals: GlobalOptions,
  id: string,
  options: { readonly wait?: number; readonly force?: boolean },
  io: CliIo,
): Promise<number> {
  const secretId = globals.keysetSecret ?? io.env[RUNTIME_ENV.cliKeysetSecretArn];
  if (!secretId)
    throw new UsageError('rekey keys promote needs the keyset secret: --keyset-secret ARN or REKEY_KEYSET_SECRET_ARN');
  const runtime = await openSession(globals, io, { needsRegistry: false, syncCatalog: false });
  try {
    const stateMachineArn = io.env[ENV.stateMachineArn];
    const aws = cliAws();
    const result = await promoteKeysetKey(
      {
        secrets: aws.secrets(),
        kms: aws.kms(),
        catalog: runtime.catalog,
        executions: aws.executionStarter(stateMachineArn ?? 'arn:unset'),
        sql: runtime.sql,
        actor: actorOf(globals, io),
      },
      secretId,
      id,
      {
        waitSeconds: options.wait,
        force: options.force,
        startRewrap: stateMachineArn !== undefined,
        exceptReaderIds: runtime.reader ? [runtime.reader.readerId] : [],
        onWait: (lagging) =>
          io.stderr(
            `Waiting for ${lagging.length} reader(s) to report ${id}: ${lagging.map((r) => r.readerId).join(', ')}\n`,
          ),
      },
    );
    if (globals.json) printJson(io, result);
    else {
      io.stdout(`${result.changes.length ? result.changes.join('; ') : `${id} was already primary and active`}.\n`);
      if (result.forcedPast.length)
        io.stderr(
          `WARNING: --force: ${result.forcedPast.join(', ')} cannot decrypt ${id} (recorded in the audit log)\n`,
        );
      if (!stateMachineArn)
        io.stdout(`No STATE_MACHINE_ARN: move the values with \`rekey reencrypt --keyring hierarchical\`.\n`);
    }
    return EXIT.ok;
  } finally {
    await runtime.close();
  }
}
