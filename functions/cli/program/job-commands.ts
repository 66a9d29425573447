import type { Command } from 'commander';
import { JOB_BOUNDS, JOB_DEFAULTS } from '../../core/job-settings';
import { RUNNERS } from '../../core/plan/throughput';
import { MODES } from '../../core/reencrypt/values/modes';
import { planCommand } from '../commands/plan';
import { reencryptCommand } from '../commands/reencrypt';
import { UsageError } from '../io';
import { collect, oneOf, positiveInt, positiveNumber, rate } from '../values';
import type { CommandContext } from './command-context';

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

/** The options that shape a job, the same for `reencrypt` and for `plan` (which plans that job). */
function addJobShapeOptions(command: Command): Command {
  return command
    .option(
      '-b, --batch-size <n>',
      `rows per batch (default: ${JOB_DEFAULTS.batchSize})`,
      positiveInt(JOB_BOUNDS.batchSize.max),
    )
    .option('-t, --table <name>', 'only this table (repeatable; default: all in the registry)', collect)
    .option('--mode <mode>', `${MODES.join(' | ')}`, oneOf(MODES), 'rewrap');
}

/** `rekey reencrypt` and `rekey plan`. */
export function addJobCommands(program: Command, { io, globals, wrap }: CommandContext): void {
  const reencrypt = program
    .command('reencrypt')
    .description('move every stored value to the primary key (dry run first: -n)')
    .option('-n, --dry-run', 'show what would change; change nothing');
  addJobShapeOptions(reencrypt)
    .option(
      '--concurrency <n>',
      'worker threads (each with its own connection)',
      positiveInt(JOB_BOUNDS.cliThreads.max),
      JOB_DEFAULTS.cliThreads,
    )
    .option(
      '--max-error-rate <r>',
      `abort when failed rows pass this fraction (default: ${JOB_DEFAULTS.maxErrorRate})`,
      rate,
    )
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

  const plan = program
    .command('plan')
    .description('what a re-encryption job would change, call, take and cost (changes nothing)');
  addJobShapeOptions(plan)
    .option(
      '--concurrency <n>',
      `workers (default: ${JOB_DEFAULTS.cliThreads} for the CLI, the pipeline's Lambda concurrency for the state machine)`,
      positiveInt(JOB_BOUNDS.maxConcurrency.max),
    )
    .option('--target-key <id>', "key to move to (default: the primary key, or the tenant's own key with --tenant)")
    .option('--tenant <tenant>', "only this tenant's rows")
    .option(
      '--runner <runner>',
      `where the job would run, each with its own time model: ${RUNNERS.join(' | ')} (the local runtime: npm run demo)`,
      oneOf(RUNNERS),
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
}
