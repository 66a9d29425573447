import { randomUUID } from 'node:crypto';
import type { SecretRotationStarter, SecretsPort } from '../../core/ports/secrets';
import { startKeysetRotation, type RotationOutcome } from '../../core/rotation/start-rotation';
import { cliAws } from '../../runtime/cli-container';
import { EXIT, UsageError, type CliIo, type GlobalOptions } from '../io';
import { printJson } from '../session';
import { OUTPUT, readStackOutputs } from '../stack-outputs';

export interface RotateOptions {
  readonly outputs?: string;
  readonly stack?: string;
  readonly secretId?: string;
  /** Seconds to follow the rotation; 0 only starts it. */
  readonly wait: number;
  /** Seconds between two looks at the version stages. */
  readonly pollInterval: number;
}

/** Test seam: the Secrets Manager port (default: the SDK client from the environment). */
export interface RotateClients {
  readonly secrets?: Pick<SecretsPort, 'describeSecret' | 'getSecretValue'> & SecretRotationStarter;
}

/** How often a pending rotation is reported on stderr while waiting. */
const PROGRESS_EVERY_MS = 15_000;

/**
 * `rekey keys rotate`: rotates the deployed keyset secret now (what the
 * rotation schedule does) and waits until the new keyset is AWSCURRENT
 * (core/rotation/start-rotation.ts). Exit 0 when it is (or, with `--wait 0`,
 * once the rotation started); 1 when it did not finish in time or was
 * abandoned, with where to look.
 */
export async function rotateCommand(
  globals: GlobalOptions,
  opts: RotateOptions,
  io: CliIo,
  clients: RotateClients = {},
): Promise<number> {
  const secretId = keysetSecretOf(opts, io);
  let lastReport = 0;
  const outcome = await startKeysetRotation(
    {
      secrets: clients.secrets ?? cliAws().secrets(),
      newToken: randomUUID,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      now: Date.now,
    },
    {
      secretId,
      waitMs: opts.wait * 1000,
      pollMs: opts.pollInterval * 1000,
      onPending: (waitedMs) => {
        if (waitedMs - lastReport < PROGRESS_EVERY_MS) return;
        lastReport = waitedMs;
        io.stderr(`rotation still pending after ${Math.round(waitedMs / 1000)} s\n`);
      },
    },
  );
  if (globals.json) printJson(io, { secretId, ...outcome });
  else io.stdout(describe(outcome, secretId, opts.wait));
  return outcome.status === 'current' || outcome.status === 'started' ? EXIT.ok : EXIT.failure;
}

function keysetSecretOf(opts: RotateOptions, io: CliIo): string {
  if (opts.secretId) return opts.secretId;
  if (!opts.outputs) throw new UsageError('name the keyset secret: --outputs cdk-outputs.json, or --secret-id ARN');
  const { stack, outputs } = readStackOutputs(opts.outputs, opts.stack, io.cwd);
  const arn = outputs[OUTPUT.keysetSecretArn];
  if (!arn) {
    throw new UsageError(
      `--outputs ${opts.outputs}: stack ${stack} has no ${OUTPUT.keysetSecretArn} output ` +
        '(a stack with the kms keyring has no keyset to rotate)',
    );
  }
  return arn;
}

function describe(outcome: RotationOutcome, secretId: string, waitSeconds: number): string {
  switch (outcome.status) {
    case 'started':
      return `rotation of ${secretId} started: version ${outcome.versionId} (not waited for)\n`;
    case 'current':
      return (
        `keyset rotated: version ${outcome.versionId} is AWSCURRENT\n` +
        `primary ${outcome.keyset.primary}; keys ${outcome.keyset.keyIds.join(', ')}\n`
      );
    case 'pending':
      return (
        `rotation of ${secretId} has not finished after ${waitSeconds} s: version ${outcome.versionId} is still ` +
        'AWSPENDING. It may still be running (a cold database can take minutes), or it failed and Secrets Manager ' +
        "will retry it: look at the RotationHookErrors alarm and the rotation function's log group, then run " +
        '`rekey keys rotate` again (it says how to clear a failed rotation)\n'
      );
    case 'abandoned':
      return (
        `rotation of ${secretId} ended without making version ${outcome.versionId} AWSCURRENT ` +
        `(its stages now: ${outcome.stages.join(', ') || 'none'}): AWSCURRENT is unchanged. ` +
        "The rotation function's log group names the cause\n"
      );
  }
}
