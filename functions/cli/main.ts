import { CommanderError } from 'commander';
import { RekeyError } from '../core/errors';
import { EXIT, UsageError, type CliIo } from './io';
import { buildProgram } from './program/build-program';

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
