import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** This run's environment without the harness's own settings (REKEY_TEST_*, CI, DATABASE_URL), plus `env`. */
function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('REKEY_TEST_') && k !== 'CI' && k !== 'DATABASE_URL' && !k.startsWith('JEST_'),
    ),
  );
  return { ...base, ...env };
}

// `node --import tsx`, not the tsx CLI: the CLI runs the script in a second process, which a kill of the first would miss.
const ROOT = join(__dirname, '..', '..');
const args = (scenario: string): string[] => ['--import', 'tsx', join(__dirname, 'harness-child.ts'), scenario];

/**
 * Runs a scenario of harness-child.ts to its end in a fresh process with a
 * clean environment; resolves with the JSON line it printed last.
 */
export function runHarnessChild<T = Record<string, unknown>>(
  scenario: string,
  env: NodeJS.ProcessEnv = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      args(scenario),
      { env: childEnv(env), cwd: ROOT, timeout: 120_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const line = stdout.trim().split('\n').pop();
        if (!line) {
          reject(new Error(`harness child ${scenario} printed nothing (${err?.message ?? 'exit 0'}): ${stderr}`));
          return;
        }
        resolve(JSON.parse(line) as T);
      },
    );
  });
}

/** Starts a long-running scenario; `firstLine` resolves with the first JSON line it prints. The caller ends it. */
export function spawnHarnessChild<T = Record<string, unknown>>(
  scenario: string,
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; firstLine: Promise<T> } {
  const child = spawn(process.execPath, args(scenario), {
    env: childEnv(env),
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const firstLine = new Promise<T>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const newline = stdout.indexOf('\n');
      if (newline >= 0) resolve(JSON.parse(stdout.slice(0, newline)) as T);
    });
    child.once('exit', (code) =>
      reject(new Error(`harness child ${scenario} exited (${code}) before printing: ${stderr}`)),
    );
  });
  return { child, firstLine };
}
