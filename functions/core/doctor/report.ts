import { RekeyError } from '../errors';

/**
 * `rekey doctor`'s report: one row per check, each pass, fail, or skip (the
 * deployment does not have that part, e.g. no keyset secret with the kms
 * keyring). `detail` says what was found or what is wrong and what to do;
 * ids and counts only, never a secret or key material.
 */
export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly status: CheckStatus;
  readonly detail: string;
}

export interface Check {
  readonly id: string;
  readonly title: string;
  /** Resolves to the pass detail; throws CheckFailed (or any error) to fail; returns `{skip}` when not applicable. */
  readonly run: () => Promise<string | { readonly skip: string }>;
}

/** A check found a problem: the message says what and what to do. */
export class CheckFailed extends RekeyError {
  readonly code = 'CHECK_FAILED';
}

/** Runs every check (one failing never stops the others) in order. */
export async function runChecks(checks: readonly Check[]): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const c of checks) {
    try {
      const out = await c.run();
      results.push(
        typeof out === 'string'
          ? { id: c.id, title: c.title, status: 'pass', detail: out }
          : { id: c.id, title: c.title, status: 'skip', detail: out.skip },
      );
    } catch (err) {
      const detail =
        err instanceof RekeyError ? err.message : err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      results.push({ id: c.id, title: c.title, status: 'fail', detail });
    }
  }
  return results;
}

/** The table the CLI prints: check, status, detail. */
export function formatReport(results: readonly CheckResult[]): string {
  const idWidth = Math.max(5, ...results.map((r) => r.id.length));
  const lines = [`${'check'.padEnd(idWidth)}  status  detail`];
  // One line per check: a multi-line detail (a RegistryError's list) is joined with '; '.
  for (const r of results)
    lines.push(`${r.id.padEnd(idWidth)}  ${r.status.toUpperCase().padEnd(6)}  ${r.detail.replace(/\n\s*/g, '; ')}`);
  const failed = results.filter((r) => r.status === 'fail').length;
  lines.push(
    '',
    failed === 0
      ? `All ${results.filter((r) => r.status === 'pass').length} checks passed.`
      : `${failed} of ${results.length} checks failed.`,
  );
  return `${lines.join('\n')}\n`;
}
