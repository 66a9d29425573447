import { Command, CommanderError, Option } from 'commander';
import { RekeyError } from '../core/errors';
import { DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE } from '../core/reencrypt/jobs/jobs';
import { MODES } from '../core/reencrypt/values/modes';
import { keysCommand } from './commands/keys';
import { migrateCommand } from './commands/migrate';
import { doctorCommand, type DoctorOptions } from './commands/doctor';
import { planCommand } from './commands/plan';
import { promoteCommand } from './commands/promote';
import { readersCommand } from './commands/readers';
import { reencryptCommand } from './commands/reencrypt';
import { redriveCommand, type RedriveOptions } from './commands/redrive';
import { statusCommand } from './commands/status';
import { verifyCommand } from './commands/verify';
import { EXIT, UsageError, type CliIo, type GlobalOptions } from './io';
import { collect, oneOf, positiveInt, positiveNumber, rate } from './values';

/**
 * The `rekey` command line. Returns the exit code instead of exiting, so
 * tests run it in-process: 0 ok, 1 the operation failed or found a problem,
 * 2 the command line is wrong (docs/cli.md).
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  // --json promises machine-readable stdout, failures included: a script
  // piping stdout into a JSON parser must get an object, not nothing.
  const json = (): boolean => Boolean(program.opts().json) || argv.includes('--json');
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0. Help printed because a command was
      // incomplete (`rekey`, `rekey keys`) goes to stderr with exit code 1
      // from commander: that is a usage error (2) like any other parse problem.
      const exit = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      if (exit !== EXIT.ok && json()) printError(io, 'USAGE', err.message.replace(/^error: /, ''));
      return exit;
    }
    if (err instanceof UsageError) {
      io.stderr(`error: ${err.message}\n`);
      if (json()) printError(io, 'USAGE', err.message);
      return EXIT.usage;
    }
    const message = describeError(err);
    io.stderr(`error: ${message}\n`);
    if (json()) printError(io, err instanceof RekeyError ? err.code : 'FAILURE', message);
    return EXIT.failure;
  }
}

/** The --json form of a failure: `{"error":{"code","message"}}` on stdout (the message is the one stderr got). */
function printError(io: CliIo, code: string, message: string): void {
  io.stdout(`${JSON.stringify({ error: { code, message } })}\n`);
}

/** Flags that describe a new job; a resumed job keeps the ones it was created with. */
const NEW_JOB_FLAGS = ['dryRun', 'batchSize', 'table', 'mode', 'maxErrorRate', 'targetKey', 'tenant'] as const;

/**
 * --resume continues a job as it was created. Combined with --dry-run it
 * would otherwise re-encrypt for real while the operator asked for nothing to
 * change, and the other job-shaping flags would be silently ignored.
 */
function refuseResumeConflicts(cmd: Command): void {
  if (cmd.getOptionValue('resume') === undefined) return;
  const given = NEW_JOB_FLAGS.filter((key) => cmd.getOptionValueSource(key) === 'cli');
  if (given.length === 0) return;
  const flags = given.map((key) => cmd.options.find((o) => o.attributeName() === key)!.long!).join(', ');
  throw new UsageError(
    `--resume continues a job with the options it was created with: drop ${flags} (or start a new job without --resume)`,
  );
}

/** One line that says what is wrong and what to do; rekey's errors already do, others get their name. */
function describeError(err: unknown): string {
  if (err instanceof RekeyError) return err.message;
  if (err instanceof Error) {
    if ((err as { code?: string }).code === 'ENOENT' && /rekey\.config\.json/.test(err.message)) {
      return 'no rekey.config.json in this directory: pass --config PATH (see docs/cli.md for the registry format)';
    }
    return `${err.name}: ${err.message}`;
  }
  return String(err);
}

function buildProgram(io: CliIo, setCode: (code: number) => void): Command {
  const program = new Command('rekey')
    .description('Envelope encryption and zero-downtime key rotation for secrets stored in PostgreSQL')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(add --help for usage)')
    .option('--database-url <url>', 'PostgreSQL URL (default: $DATABASE_URL); sslmode/sslrootcert honoured')
    .option('--config <path>', 'encrypted-column registry (default: ./rekey.config.json)')
    .option('--json', 'machine-readable output on stdout')
    .option('-q, --quiet', 'no start-up or progress lines')
    .addOption(
      new Option(
        '--keyring <kind>',
        'where the keys come from (default: raw, from SECRETS_ENCRYPTION_KEY/_PREVIOUS)',
      ).choices(['raw', 'hierarchical', 'kms']),
    )
    .option('--keyset-secret <arn>', 'hierarchical keyring: the keyset secret (default: $REKEY_KEYSET_SECRET_ARN)')
    .option('--actor <name>', 'who is acting, for the audit log (default: $USER)');

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals() as GlobalOptions;
  const wrap =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A): Promise<void> => {
      setCode(await fn(...args));
    };

  program
    .command('reencrypt')
    .description('move every stored value to the primary key (dry run first: -n)')
    .option('-n, --dry-run', 'show what would change; change nothing')
    .option('-b, --batch-size <n>', `rows per batch (default: ${DEFAULT_BATCH_SIZE})`, positiveInt(MAX_BATCH_SIZE))
    .option('-t, --table <name>', 'only this table (repeatable; default: all in the registry)', collect)
    .option('--mode <mode>', `${MODES.join(' | ')}`, oneOf(MODES), 'rewrap')
    .option('--concurrency <n>', 'worker threads (each with its own connection)', positiveInt(64), 1)
    .option('--max-error-rate <r>', 'abort when failed rows pass this fraction (default: 0.01)', rate)
    .option('--target-key <id>', "key to move to (default: the primary key, or the tenant's own key with --tenant)")
    .option(
      '--tenant <tenant>',
      "only this tenant's rows (tables with a tenantColumn), moved to the tenant's own active key",
    )
    .option('--resume <job>', 'pick up an interrupted job (with the options it was created with)')
    .action(
      wrap(async (opts: Parameters<typeof reencryptCommand>[1], cmd: Command) => {
        refuseResumeConflicts(cmd);
        return reencryptCommand(globals(cmd), opts, io);
      }),
    );

  program
    .command('plan')
    .description('what a re-encryption job would change, call, take and cost (changes nothing)')
    .option('-b, --batch-size <n>', `rows per batch (default: ${DEFAULT_BATCH_SIZE})`, positiveInt(MAX_BATCH_SIZE))
    .option('-t, --table <name>', 'only this table (repeatable; default: all in the registry)', collect)
    .option('--mode <mode>', `${MODES.join(' | ')}`, oneOf(MODES), 'rewrap')
    .option(
      '--concurrency <n>',
      "workers (default: 1 for the CLI, the pipeline's Lambda concurrency for the state machine)",
      positiveInt(1000),
    )
    .option('--target-key <id>', "key to move to (default: the primary key, or the tenant's own key with --tenant)")
    .option('--tenant <tenant>', "only this tenant's rows")
    .option(
      '--runner <runner>',
      'where the job would run: cli | state-machine',
      oneOf(['cli', 'state-machine'] as const),
      'cli',
    )
    .option('--region <region>', 'AWS region for the KMS quota default (default: $AWS_REGION, else us-east-1)')
    .option(
      '--kms-quota <n>',
      "the account's KMS symmetric request quota per second (default: the region's)",
      positiveNumber,
    )
    .option('--prices <file.json>', 'prices replacing the built-in table (docs/plan.md)')
    .action(wrap(async (opts: Parameters<typeof planCommand>[1], cmd: Command) => planCommand(globals(cmd), opts, io)));

  program
    .command('verify')
    .description('count rows per key version; exit 0 only when every row is on the primary key')
    .option('--decrypt', 'also decrypt every value (counts failures, prints no plaintext)')
    .option('-t, --table <name>', 'only this table (repeatable)', collect)
    .action(
      wrap(async (opts: { decrypt?: boolean; table?: string[] }, cmd: Command) =>
        verifyCommand(globals(cmd), opts, io),
      ),
    );

  program
    .command('inventory')
    .description('rows per key version and legacy/plaintext state, per table')
    .option('-t, --table <name>', 'only this table (repeatable)', collect)
    .action(
      wrap(async (opts: { table?: string[] }, cmd: Command) => verifyCommand(globals(cmd), opts, io, 'inventory')),
    );

  program
    .command('status')
    .description('latest jobs, or one job with its batches and row errors')
    .argument('[job]', 'job id')
    .action(
      wrap(async (job: string | undefined, _opts: unknown, cmd: Command) => statusCommand(globals(cmd), job, io)),
    );

  program
    .command('doctor')
    .description(
      'check a deployment from its stack outputs: keys, Data API, schema, registry, alarms, schedules, DLQ (exit 0 only when all pass)',
    )
    .requiredOption('--outputs <file>', 'cdk deploy --outputs-file JSON')
    .option('--stack <name>', 'the stack in --outputs (default: the only one)')
    .option('--database-name <name>', 'the database the Data API opens (default: the DatabaseName output)')
    .action(wrap(async (opts: DoctorOptions, cmd: Command) => doctorCommand(globals(cmd), opts, io)));

  program
    .command('redrive')
    .description("send a stuck job's batches from the dead-letter queue back to the batch queue and resume the job")
    .argument('<job>', 'job id (the stuck status names it)')
    .option('--outputs <file>', 'cdk deploy --outputs-file JSON: the queue URLs and state machine ARN')
    .option('--stack <name>', 'the stack in --outputs (default: the only one)')
    .option('--queue-url <url>', 'the batch queue (default: BatchQueueUrl from --outputs)')
    .option('--dead-letter-queue-url <url>', 'the dead-letter queue (default: DeadLetterQueueUrl from --outputs)')
    .option('--state-machine-arn <arn>', 'the re-encryption state machine (default: StateMachineArn from --outputs)')
    .option('--no-start', 'reopen the job and move the messages, but only print the execution to start')
    .action(
      wrap(async (job: string, opts: RedriveOptions, cmd: Command) => redriveCommand(globals(cmd), job, opts, io)),
    );

  program
    .command('readers')
    .description('processes registered with the rollout gate: live and stale, what each can decrypt and encrypts with')
    .option('--key <id>', 'say whether every live reader can decrypt this key (exit 1 when one cannot)')
    .action(wrap(async (opts: { key?: string }, cmd: Command) => readersCommand(globals(cmd), opts, io)));

  program
    .command('migrate')
    .description("apply rekey's schema migrations (idempotent)")
    .option('--status', 'only show applied and pending migrations')
    .action(wrap(async (opts: { status?: boolean }, cmd: Command) => migrateCommand(globals(cmd), opts, io)));

  const keys = program.command('keys').description('the key catalog: list, add, activate, retire, destroy, rollback');
  const keyAction = (
    name: 'add' | 'activate' | 'retire' | 'destroy',
    description: string,
    build?: (c: Command) => Command,
  ) => {
    let c = keys.command(name).description(description).argument('<id>', 'key id, e.g. kek-v3');
    if (build) c = build(c);
    c.action(
      wrap(async (id: string, opts: Record<string, unknown>, cmd: Command) =>
        keysCommand(globals(cmd), name, id, opts, io),
      ),
    );
  };
  keys
    .command('list')
    .description('every key with its status')
    .option('--tenant <tenant>', 'only this tenant scope')
    .action(
      wrap(async (opts: { tenant?: string }, cmd: Command) => keysCommand(globals(cmd), 'list', undefined, opts, io)),
    );
  keyAction('add', 'register a new key version (pending)', (c) =>
    c
      .addOption(new Option('--keyring <kind>', 'raw | kms | hierarchical').choices(['raw', 'kms', 'hierarchical']))
      .option('--kms-key-arn <arn>', 'kms keyring: the KMS key')
      .option('--tenant <tenant>', 'tenant scope (default: global)'),
  );
  keyAction(
    'activate',
    'make a key primary once every live reader can decrypt it; the current one becomes rotating',
    (c) =>
      c
        .option('--wait <seconds>', 'wait up to this long for lagging readers to report the key', positiveInt(86_400))
        .option('--force', 'activate although live readers cannot decrypt the key (written to the audit log)'),
  );
  keyAction('retire', 'retire a rotating key (refused while values remain under it)');
  keyAction(
    'destroy',
    'destroy a retired key (with --force, a tenant key still in use too): irreversible (crypto-shredding)',
    (c) => c.option('--yes', 'confirm').option('--force', 'destroy even though values remain under it'),
  );
  keys
    .command('promote')
    .description(
      'two-phase keyset rotation: make the KEK the rotation published decrypt-only the primary, once every live reader has it',
    )
    .argument('<id>', 'key id, e.g. kek-v3')
    .option('--wait <seconds>', 'wait up to this long for lagging readers to report the key', positiveInt(86_400))
    .option('--force', 'promote although live readers cannot decrypt the key (written to the audit log)')
    .action(
      wrap(async (id: string, opts: { wait?: number; force?: boolean }, cmd: Command) =>
        promoteCommand(globals(cmd), id, opts, io),
      ),
    );
  keys
    .command('rollback')
    .description('make the previous key primary again and rewrap everything back to it')
    .option('--to <id>', 'the key to return to (default: the rotating key)')
    .option('-b, --batch-size <n>', 'rows per batch', positiveInt(MAX_BATCH_SIZE))
    .action(
      wrap(async (opts: { to?: string; batchSize?: number }, cmd: Command) =>
        keysCommand(globals(cmd), 'rollback', undefined, opts, io),
      ),
    );

  for (const c of [program, ...program.commands, ...keys.commands]) {
    c.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  }
  return program;
}
