import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Runs the Python oracles (python3 + cryptography, installed on these
 * machines and in CI). A missing interpreter or package FAILS the calling
 * test with `NOT RUN: …` — in CI and elsewhere — never an early return, so
 * a run without the oracle is never green.
 */
export function pythonProblem(): string | undefined {
  const run = spawnSync('python3', ['-c', 'import cryptography; print(cryptography.__version__)'], {
    encoding: 'utf8',
  });
  if (run.error) return `python3 could not be run (${run.error.message})`;
  if (run.status !== 0) return `python3 has no cryptography package (${run.stderr.trim().split('\n').pop()})`;
  return undefined;
}

export function requirePython(what: string): void {
  const problem = pythonProblem();
  if (problem) throw new Error(`NOT RUN: ${what} needs python3 with cryptography: ${problem}`);
}

/** Runs `script` (relative to test/support/python) with a JSON request on stdin; its JSON answer. Throws with its stderr on failure. */
export function runPythonJson<T>(script: string, request: unknown, path = join(__dirname, 'python', script)): T {
  requirePython(script);
  const run = spawnSync('python3', [path], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.status !== 0)
    throw new Error(`python3 ${script} failed: ${(run.stderr || run.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(run.stdout) as T;
}
