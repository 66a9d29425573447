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

/** Runs `rekey <args>` with exactly `env` as its environment and `cwd` as its working directory. */
export async function runCli(args: readonly string[], where: { env: NodeJS.ProcessEnv; cwd: string }): Promise<CliRun> {
  let out = '';
  let err = '';
  const io: CliIo = {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    isTTY: false,
    env: where.env,
    cwd: where.cwd,
  };
  const code = await main([...args], io);
  return { code, out, err };
}
