import { Command, Option } from 'commander';
import { KEYRING_KINDS } from '../../core/keyring-kinds';
import { doctorCommand, type DoctorOptions } from '../commands/doctor';
import { migrateCommand } from '../commands/migrate';
import { readersCommand } from '../commands/readers';
import { redriveCommand, type RedriveOptions } from '../commands/redrive';
import { statusCommand } from '../commands/status';
import { verifyCommand } from '../commands/verify';
import type { CliIo } from '../io';
import { collect } from '../values';
import { commandContext } from './command-context';
import { addJobCommands } from './job-commands';
import { addKeyCommands } from './key-commands';

/** The `rekey` command line's grammar (commander); every action hands its exit code to `setCode`. */
export function buildProgram(io: CliIo, setCode: (code: number) => void): Command {
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
      ).choices(KEYRING_KINDS),
    )
    .option('--keyset-secret <arn>', 'hierarchical keyring: the keyset secret (default: $REKEY_KEYSET_SECRET_ARN)')
    .option('--actor <name>', 'who is acting, for the audit log (default: $USER)');

  const context = commandContext(io, setCode);
  const { globals, wrap } = context;
  addJobCommands(program, context);

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

  const keys = addKeyCommands(program, context);

  for (const c of [program, ...program.commands, ...keys.commands]) {
    c.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  }
  return program;
}
