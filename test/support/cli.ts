import { main } from '../../functions/cli/main';
import type { CliIo } from '../../functions/cli/io';

/**
 * The `rekey` command line run in this process, as a user's shell would run
 * it (no terminal: progress lines, not a bar), its two streams captured.
 * One copy for every suite that drives the CLI.
 */

/** What a CLI run printed and the exit code it returned. */
export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** A CliIo that keeps what is written to each stream; `run()` reads it back with an exit code. */
export function capturedIo(where: { env: NodeJS.ProcessEnv; cwd: string }): {
  readonly io: CliIo;
  readonly run: (code: number) => CliRun;
} {
  let out = '';
  let err = '';
  const io: CliIo = {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    isTTY: false,
    env: where.env,
    cwd: where.cwd,
  };
  return { io, run: (code) => ({ code, out, err }) };
}

/** Runs `rekey <args>` with exactly `env` as its environment and `cwd` as its working directory. */
export async function runCli(args: readonly string[], where: { env: NodeJS.ProcessEnv; cwd: string }): Promise<CliRun> {
  const { io, run } = capturedIo(where);
  return run(await main([...args], io));
}
