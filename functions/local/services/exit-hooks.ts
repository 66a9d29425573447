/**
 * Best-effort cleanup when the process ends without running its teardown
 * (an uncaught error, Ctrl-C, `kill`): throwaway servers must not outlive the
 * run. Hooks run synchronously (nothing async runs at 'exit'). A SIGKILL
 * cannot be caught; postgres-cluster.ts reaps what such a run left behind the
 * next time it starts.
 */
type Hook = () => void;
const hooks = new Set<Hook>();
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;

function runHooks(): void {
  for (const hook of [...hooks]) {
    hooks.delete(hook);
    try {
      hook();
    } catch {
      /* best effort: the others still run */
    }
  }
}

function uninstall(): void {
  installed = false;
  process.removeListener('exit', runHooks);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

function onSignal(signal: NodeJS.Signals): void {
  runHooks();
  uninstall();
  // Without other listeners, die of the signal as we would have without ours.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/** Registers `hook` to run once if the process exits; returns its unregistration (call it after a normal stop). */
export function onProcessExit(hook: Hook): () => void {
  if (!installed) {
    installed = true;
    process.on('exit', runHooks);
    for (const s of SIGNALS) process.on(s, onSignal);
  }
  hooks.add(hook);
  return () => {
    hooks.delete(hook);
    if (hooks.size === 0 && installed) uninstall();
  };
}
