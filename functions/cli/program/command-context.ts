import type { Command } from 'commander';
import type { CliIo, GlobalOptions } from '../io';

/** What every command definition needs: the io, the global options, and a way to hand its exit code to main(). */
export interface CommandContext {
  readonly io: CliIo;
  /** The command's options merged with the global ones (--database-url, --config, --json, ...). */
  readonly globals: (cmd: Command) => GlobalOptions;
  /** An action that records the exit code its command returns. */
  readonly wrap: <A extends unknown[]>(fn: (...args: A) => Promise<number>) => (...args: A) => Promise<void>;
}

export function commandContext(io: CliIo, setCode: (code: number) => void): CommandContext {
  return {
    io,
    globals: (cmd) => cmd.optsWithGlobals() as GlobalOptions,
    wrap:
      (fn) =>
      async (...args) => {
        setCode(await fn(...args));
      },
  };
}
