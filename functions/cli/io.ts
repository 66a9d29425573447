import type { KeyringKind } from '../core/keyring-kinds';
/** Where the CLI writes; injected so tests run it in-process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** stderr is a terminal: draw a progress bar instead of progress lines. */
  readonly isTTY: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export function processIo(): CliIo {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    isTTY: Boolean(process.stderr.isTTY),
    env: process.env,
    cwd: process.cwd(),
  };
}

/** Exit codes (docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** The operation ran and found or left a problem (rows not on the primary key, job aborted, a connection or key error). */
  failure: 1,
  /** The command line is wrong: unknown flag, bad value. */
  usage: 2,
} as const;

export class UsageError extends Error {}

export interface GlobalOptions {
  readonly databaseUrl?: string;
  readonly config?: string;
  readonly json?: boolean;
  readonly quiet?: boolean;
  readonly keyring?: KeyringKind;
  readonly keysetSecret?: string;
  readonly actor?: string;
}
