import { Option, type Command } from 'commander';
import { JOB_BOUNDS } from '../../core/job-settings';
import { KEYRING_KINDS } from '../../core/keyring-kinds';
import { keysCommand } from '../commands/keys';
import { promoteCommand } from '../commands/promote';
import { rotateCommand, type RotateOptions } from '../commands/rotate';
import { positiveInt, wholeNumber } from '../values';
import type { CommandContext } from './command-context';

/** `rekey keys …`: the key catalog's commands; returns the `keys` command (its sub-commands get main's output settings). */
export function addKeyCommands(program: Command, { io, globals, wrap }: CommandContext): Command {
  const keys = program
    .command('keys')
    .description('the key catalog: list, add, activate, retire, destroy, rotate, rollback');
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
      .addOption(new Option('--keyring <kind>', KEYRING_KINDS.join(' | ')).choices(KEYRING_KINDS))
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
    .command('rotate')
    .description(
      'rotate the deployed keyset secret now (as its schedule does) and wait until the new keyset is AWSCURRENT',
    )
    .option('--outputs <file>', 'cdk deploy --outputs-file JSON: the KeysetSecretArn output')
    .option('--stack <name>', 'the stack in --outputs (default: the only one)')
    .option('--secret-id <arn>', 'the keyset secret (default: KeysetSecretArn from --outputs)')
    .option('--wait <seconds>', 'follow the rotation this long; 0 only starts it', wholeNumber(3_600), 300)
    .option('--poll-interval <seconds>', 'seconds between two looks at the version stages', positiveInt(300), 5)
    .action(wrap(async (opts: RotateOptions, cmd: Command) => rotateCommand(globals(cmd), opts, io)));
  keys
    .command('rollback')
    .description('make the previous key primary again and rewrap everything back to it')
    .option('--to <id>', 'the key to return to (default: the rotating key)')
    .option('-b, --batch-size <n>', 'rows per batch', positiveInt(JOB_BOUNDS.batchSize.max))
    .action(
      wrap(async (opts: { to?: string; batchSize?: number }, cmd: Command) =>
        keysCommand(globals(cmd), 'rollback', undefined, opts, io),
      ),
    );
  return keys;
}
