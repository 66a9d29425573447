import { formatReport } from '../../../functions/cli/commands/verify';
import type { VerifyReport } from '../../../functions/core/reencrypt/verify/verify';
import { runCli, type CliRun } from '../../support/cli';

/**
 * The command line without a database: help and usage errors are decided by
 * the parser before any connection is opened, so DATABASE_URL points nowhere
 * and a test that reached it would fail with exit code 1, not 0 or 2.
 */
const run = (...args: string[]): Promise<CliRun> =>
  runCli(args, { env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }, cwd: '/nonexistent' });

describe('rekey command line', () => {
  const commands = [
    ['reencrypt'],
    ['verify'],
    ['inventory'],
    ['status'],
    ['migrate'],
    ['keys'],
    ['keys', 'list'],
    ['keys', 'add'],
    ['keys', 'activate'],
    ['keys', 'retire'],
    ['keys', 'destroy'],
    ['keys', 'rollback'],
    ['keys', 'promote'],
    ['plan'],
    ['readers'],
  ];

  it.each(commands.map((c) => c.join(' ')))('prints help for `rekey %s --help` and exits 0', async (command) => {
    const { code, out } = await run(...command.split(' '), '--help');
    expect(code).toBe(0);
    expect(out).toContain(`Usage: rekey ${command}`);
  });

  it('prints the top-level help listing every command', async () => {
    const { code, out } = await run('--help');
    expect(code).toBe(0);
    for (const name of ['reencrypt', 'verify', 'inventory', 'status', 'migrate', 'keys']) expect(out).toContain(name);
  });

  const usageErrors: [string[], RegExp][] = [
    [['reencrypt', '--bogus'], /unknown option '--bogus'/],
    [['reencrypt', '-b', '-5'], /--batch-size.*whole number from 1/],
    [['reencrypt', '-b', '0'], /--batch-size.*whole number from 1/],
    [['reencrypt', '-b', '2.5'], /--batch-size.*whole number/],
    [['reencrypt', '--concurrency', '0'], /--concurrency.*whole number from 1/],
    [['reencrypt', '--max-error-rate', '1.5'], /--max-error-rate.*fraction from 0 to 1/],
    [['reencrypt', '--max-error-rate', '-0.1'], /--max-error-rate.*fraction from 0 to 1/],
    [['reencrypt', '--mode', 'shred'], /--mode.*expected one of rewrap, reencrypt, encrypt, migrate/],
    [['reencrypt', '-t', ''], /--table.*expected a table name/],
    [['--keyring', 'vault', 'verify'], /--keyring.*Allowed choices are raw, hierarchical, kms/],
    [['keys', 'activate'], /missing required argument 'id'/],
    [['keys', 'shred', 'kek-v1'], /unknown command 'shred'/],
    [['verify', '--nope'], /unknown option '--nope'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];

  it.each(usageErrors)('exits 2 for %j, naming the problem', async (args, message) => {
    const { code, err, out } = await run(...args);
    expect(code).toBe(2);
    expect(err).toMatch(message);
    expect(out).toBe('');
  });

  it('reports a database it cannot reach as a failure (1), not a usage error', async () => {
    const { code, err } = await run('migrate', '--status');
    expect(code).toBe(1);
    expect(err).toMatch(/^error: /);
  });

  it.each([[[]], [['keys']]])('treats %j without a command as a usage error: help on stderr, exit 2', async (args) => {
    const { code, out, err } = await run(...args);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(/Usage: rekey/);
  });

  it.each([
    [['--dry-run'], /drop --dry-run/],
    [['-n', '-b', '10'], /drop --dry-run, --batch-size/],
    [['--mode', 'reencrypt'], /drop --mode/],
    [['-t', 'accounts', '--target-key', 'kek-v1'], /drop --table, --target-key/],
    [['--max-error-rate', '0.5'], /drop --max-error-rate/],
  ])('refuses --resume with job-shaping flags %j before touching the database (exit 2)', async (extra, message) => {
    const { code, out, err } = await run('reencrypt', '--resume', '00000000-0000-0000-0000-000000000000', ...extra);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(message);
  });

  it('with --json, a failure is still a JSON object on stdout (and the message on stderr)', async () => {
    const failed = await run('--json', 'migrate', '--status');
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.out)).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
    expect(failed.err).toMatch(/^error: /);

    const usage = await run('--json', 'reencrypt', '--bogus');
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.out)).toEqual({
      error: { code: 'USAGE', message: expect.stringMatching(/unknown option '--bogus'/) },
    });

    const resume = await run('--json', 'reencrypt', '--resume', 'x', '-n');
    expect(resume.code).toBe(2);
    expect(JSON.parse(resume.out).error.message).toMatch(/drop --dry-run/);
  });
});

describe('verify report formatting', () => {
  const table = {
    table: 'llm_providers',
    rows: 10,
    rowsOnTarget: 7,
    rowsNotOnTarget: 3,
    rowsWithPlaintextSource: 0,
    values: { envelopes: { 'kek-v2': 7, 'kek-v1': 1 }, fernet: 1, jsonKeyId: { 'kek-v0': 1 }, plaintext: 0, null: 0 },
  };
  const report = (over: Partial<VerifyReport>): VerifyReport => ({
    targetKeyId: 'kek-v2',
    tables: [table],
    keys: { 'kek-v2': 7, 'kek-v1': 1 },
    allOnTarget: false,
    decryptFailures: 0,
    plaintextSources: 0,
    scope: { kind: 'all' },
    ok: false,
    ...over,
  });

  it('lists every key version and legacy state with a verdict', () => {
    const text = formatReport(report({}), 'verify');
    expect(text).toContain('llm_providers: 10 rows, 7 on kek-v2, 3 not');
    expect(text).toMatch(/kek-v1\s+1 values/);
    expect(text).toMatch(/json:kek-v0\s+1 values \(legacy JSON key_id: --mode migrate/);
    expect(text).toMatch(/fernet\s+1 values \(legacy Fernet: --mode migrate/);
    expect(text.trimEnd().split('\n').at(-1)).toBe('NOT OK: 3 rows not on kek-v2');
  });

  it('gives no verdict in inventory mode and says OK only when everything is on the primary', () => {
    expect(formatReport(report({}), 'inventory')).not.toMatch(/OK/);
    const done = {
      ...table,
      rowsOnTarget: 10,
      rowsNotOnTarget: 0,
      values: { ...table.values, envelopes: { 'kek-v2': 10 }, fernet: 0, jsonKeyId: {} },
    };
    const ok = formatReport(report({ tables: [done], allOnTarget: true, ok: true }), 'verify');
    expect(ok).toContain('OK: every row is on the primary key kek-v2');
  });

  it('plan, readers and the rollout gate flags are usage-checked before any connection', async () => {
    expect((await run('plan', '--kms-quota', '-5')).code).toBe(2);
    expect((await run('plan', '--runner', 'mainframe')).code).toBe(2);
    expect((await run('keys', 'activate', 'kek-v2', '--wait', 'soon')).code).toBe(2);
    const promote = await run('keys', 'promote', 'kek-v2');
    expect([promote.code, promote.err]).toEqual([
      2,
      expect.stringContaining('needs the keyset secret: --keyset-secret ARN or REKEY_KEYSET_SECRET_ARN'),
    ]);
  });
});
