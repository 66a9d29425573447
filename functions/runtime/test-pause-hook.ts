import { RUNTIME_ENV } from '../core/environment-names';
import type { FaultHook } from '../core/reencrypt/ports';

/** Longest pause; the reliability suite kills the process long before. */
const MAX_PAUSE_MS = 120_000;

/**
 * Test-only: `REKEY_TEST_PAUSE_AT=<point>:<n>` pauses the n-th time this
 * thread reaches the executor's fault point `<point>` (e.g. `batch.written`,
 * inside the batch's write transaction with its rows locked) and announces it
 * on stderr, so the reliability suite can SIGKILL a real `rekey reencrypt`
 * process at exactly that point (test/reliability/crash-kill.test.ts).
 * `REKEY_TEST_PAUSE_MS` bounds the pause (default 120 s). Unset, no hook.
 * The announcement carries ids only.
 */
export function testPauseHook(env: NodeJS.ProcessEnv): FaultHook | undefined {
  const spec = env[RUNTIME_ENV.testPauseAt];
  if (!spec) return undefined;
  const m = /^([a-z.-]+):([1-9][0-9]*)$/.exec(spec);
  if (!m)
    throw new Error(
      `${RUNTIME_ENV.testPauseAt} must be <fault point>:<n>, e.g. batch.written:2 (got ${JSON.stringify(spec)})`,
    );
  const point = m[1]!;
  const nth = Number(m[2]);
  const pauseMs = Math.min(Number(env[RUNTIME_ENV.testPauseMs] ?? MAX_PAUSE_MS) || MAX_PAUSE_MS, MAX_PAUSE_MS);
  let seen = 0;
  return async (at, where) => {
    if (at !== point || ++seen !== nth) return;
    process.stderr.write(`rekey-test: paused at ${at} (batch ${where?.table ?? '?'}#${where?.seq ?? '?'})\n`);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  };
}
