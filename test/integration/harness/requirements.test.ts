import { runHarnessChild } from '../../support/run-harness-child';

/**
 * What the harness does when parts are missing: in CI it fails before
 * starting anything and names every missing part; elsewhere it degrades and
 * says so. Run in child processes with REKEY_TEST_PG_BINDIR / REKEY_TEST_MOTO_BIN
 * pointing at nothing to simulate a machine without the binaries.
 */
const NO_PG = { REKEY_TEST_PG_BINDIR: '/nonexistent/rekey-no-postgres' };
const NO_MOTO = { REKEY_TEST_MOTO_BIN: 'rekey-no-such-moto-server' };

interface SetupOutcome {
  error?: string;
  adminUrl?: string | null;
  kind?: string;
  motoAvailable?: string;
  moto?: string;
}

describe('harness requirements', () => {
  it('CI without a PostgreSQL server or moto_server fails, naming both, before starting anything', async () => {
    const out = await runHarnessChild<SetupOutcome>('setup', { CI: 'true', ...NO_PG, ...NO_MOTO });
    expect(out.error).toMatch(/^CI=true and the integration tests cannot run/);
    expect(out.error).toMatch(/PostgreSQL server: set DATABASE_URL or install the server binaries/);
    expect(out.error).toMatch(/moto_server \(pip install/);
    expect(out.adminUrl).toBeNull();
  });

  it('CI without moto_server fails even when PostgreSQL is there', async () => {
    const out = await runHarnessChild<SetupOutcome>('setup', { CI: 'true', ...NO_MOTO });
    expect(out.error).toMatch(/missing moto_server/);
    expect(out.error).not.toMatch(/PostgreSQL server/);
  });

  it('outside CI, no server binaries falls back to embedded PGlite', async () => {
    const out = await runHarnessChild<SetupOutcome>('setup', { ...NO_PG, ...NO_MOTO });
    expect(out.kind).toBe('pglite');
  });

  it('outside CI, a missing moto_server makes the AWS suites fail with NOT RUN instead of passing', async () => {
    const out = await runHarnessChild<SetupOutcome>('setup', NO_MOTO);
    expect(out).toMatchObject({ kind: 'cluster', motoAvailable: '0' });
    expect(out.moto).toMatch(/^NOT RUN: moto_server is not installed/);
  });

  it('with moto_server installed, exports its endpoint', async () => {
    const out = await runHarnessChild<SetupOutcome>('setup');
    expect(out.motoAvailable).toBe('1');
    expect(out.moto).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('names a bad REKEY_TEST_PG', async () => {
    const out = await runHarnessChild<SetupOutcome>('setup', { REKEY_TEST_PG: 'sqlite' });
    expect(out.error).toBe('REKEY_TEST_PG=sqlite is not one of url, cluster, pglite');
  });
});
