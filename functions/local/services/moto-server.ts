import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { onProcessExit } from './exit-hooks';
import { freePort } from './free-port';

/** The moto_server command: REKEY_TEST_MOTO_BIN or `moto_server` (the harness's own tests name a missing one). */
function motoCommand(): string {
  return process.env.REKEY_TEST_MOTO_BIN || 'moto_server';
}

export function motoServerAvailable(): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', motoCommand()], { stdio: 'ignore' }).status === 0;
}

/** Starts `moto_server` on a free loopback port and waits until it answers. */
export async function startMotoServer(): Promise<{ endpoint: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(motoCommand(), ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Its own process group: moto_server may be a shim (pyenv) whose python child must die with it.
    detached: true,
  });
  let stderr = '';
  child.once('error', (err) => {
    stderr += `could not start moto_server: ${err.message}`;
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.pid === undefined) throw new Error(`moto_server exited early: ${stderr}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.status < 500) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      killGroup(child, 'SIGKILL');
      throw new Error(`moto_server did not answer within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  // If this process dies without calling stop(), take moto_server down with it.
  const unregister = onProcessExit(() => killGroup(child, 'SIGKILL'));
  return {
    endpoint,
    pid: child.pid!,
    stop: async () => {
      unregister();
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      killGroup(child, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
      clearTimeout(timer); // a pending timer would keep jest alive after the run
      if (child.exitCode === null) killGroup(child, 'SIGKILL');
      child.stderr?.destroy();
    },
  };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    child.kill(signal);
  }
}
