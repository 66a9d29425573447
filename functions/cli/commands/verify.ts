import { verify, type VerifyReport } from '../../core/reencrypt/verify/verify';
import { findTable } from '../../core/reencrypt/config/registry';
import { EXIT, UsageError, type CliIo, type GlobalOptions } from '../io';
import { openSession, printJson } from '../session';

/**
 * `rekey verify` (exit 0 only when every row is on the primary key and, with
 * --decrypt, every value decrypts) and `rekey inventory` (the same counts,
 * no verdict). Counts and row ids only: nothing decrypted is ever printed.
 */
export async function verifyCommand(
  globals: GlobalOptions,
  options: { decrypt?: boolean; table?: string[] },
  io: CliIo,
  mode: 'verify' | 'inventory' = 'verify',
): Promise<number> {
  const runtime = await openSession(globals, io);
  try {
    for (const name of options.table ?? []) {
      if (!findTable(runtime.registry, name)) throw new UsageError(`--table ${name}: not in the registry`);
    }
    const report = await verify(runtime.deps, {
      targetKeyId: runtime.primaryKeyId(),
      fernetTargetKeyId: runtime.fernetPrimaryKeyId(),
      tables: options.table,
      decrypt: Boolean(options.decrypt),
    });
    if (globals.json) printJson(io, report);
    else io.stdout(formatReport(report, mode));
    if (mode === 'inventory') return EXIT.ok;
    return report.ok ? EXIT.ok : EXIT.failure;
  } finally {
    await runtime.close();
  }
}

export function formatReport(report: VerifyReport, mode: 'verify' | 'inventory'): string {
  const lines: string[] = [];
  for (const t of report.tables) {
    const format = t.format ?? 'rk1';
    const target = t.targetKeyId ?? report.targetKeyId;
    lines.push(
      `${t.table}: ${t.rows} rows, ${t.rowsOnTarget} on ${target}${format === 'rk1' ? '' : ` (format ${format})`}, ${t.rowsNotOnTarget} not`,
    );
    for (const [key, n] of Object.entries(t.values.envelopes).sort())
      lines.push(`  ${key.padEnd(16)} ${n} values${format === 'rk1' ? '' : " (rk1: not the table's format)"}`);
    const legacyNote = (kind: string): string =>
      format === kind
        ? ''
        : ` (legacy ${kind === 'fernet' ? 'Fernet' : 'JSON key_id'}: --mode migrate, or declare the table's "format")`;
    for (const [key, n] of Object.entries(t.values.jsonKeyId).sort())
      lines.push(`  json:${key.padEnd(11)} ${n} values${legacyNote('json-key-id')}`);
    // Fernet tokens per key, by the key's fingerprint id (never the key); without a Fernet reader only the total is known.
    const byKey = Object.entries(t.values.fernetByKey ?? {}).sort();
    for (const [key, n] of byKey) lines.push(`  ${key.padEnd(16)} ${n} values (Fernet)${legacyNote('fernet')}`);
    if (t.values.fernet && byKey.length === 0)
      lines.push(`  fernet           ${t.values.fernet} values${legacyNote('fernet')}`);
    if (t.values.plaintext) lines.push(`  plaintext        ${t.values.plaintext} values (NOT encrypted)`);
    if (t.values.null) lines.push(`  null             ${t.values.null} values`);
    if (t.rowsWithPlaintextSource)
      lines.push(
        `  plaintext source ${t.rowsWithPlaintextSource} rows still to encrypt (NOT encrypted; run reencrypt --mode encrypt)`,
      );
    if (t.decrypt) {
      lines.push(`  decrypt check: ${t.decrypt.checked} checked, ${t.decrypt.failed} failed`);
      for (const [code, n] of Object.entries(t.decrypt.byCode)) lines.push(`    ${code}: ${n}`);
      if (t.decrypt.failedRowIds.length) lines.push(`    first failing row ids: ${t.decrypt.failedRowIds.join(', ')}`);
    }
  }
  if (mode === 'verify') {
    lines.push(
      report.ok
        ? `OK: every row is on the primary key ${report.targetKeyId}${report.tables.some((t) => t.format === 'fernet') ? ` (Fernet tables: ${report.fernetTargetKeyId ?? 'no Fernet key'})` : ''}${report.tables.some((t) => t.decrypt) ? ' and decrypts' : ''}`
        : `NOT OK: ${report.tables.reduce((a, t) => a + t.rowsNotOnTarget, 0)} rows not on ${report.targetKeyId}` +
            (report.decryptFailures ? `, ${report.decryptFailures} values failed to decrypt` : '') +
            (report.plaintextSources
              ? `, ${report.plaintextSources} rows with a plaintext source still to encrypt`
              : ''),
    );
  }
  return `${lines.join('\n')}\n`;
}
