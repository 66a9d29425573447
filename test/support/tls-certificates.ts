import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  readonly dir: string;
  /** CA that signed the server certificate. */
  readonly caCert: string;
  /** A CA that signed nothing: verification against it must fail. */
  readonly otherCaCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
}

/**
 * A throwaway CA and a server certificate it signs, made with the openssl CLI
 * (EC P-256, one day). `subjectAltName` decides which host names
 * verify-full accepts, e.g. 'IP:127.0.0.1'.
 */
export function makeTestCertificates(subjectAltName: string): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-tls-'));
  const p = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    try {
      execFileSync('openssl', args, { stdio: 'pipe', cwd: dir });
    } catch (err) {
      const e = err as { stderr?: Buffer; code?: string };
      throw new Error(
        `openssl ${args[0]} failed (${e.code ?? ''}): ${e.stderr?.toString() ?? String(err)} — the TLS tests need the openssl CLI`,
      );
    }
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca']) {
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      p(`${ca}.key`),
      '-out',
      p(`${ca}.pem`),
      '-days',
      '1',
      '-subj',
      `/CN=rekey test ${ca}`,
    );
  }
  openssl('req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=rekey test server');
  writeFileSync(
    p('server.ext'),
    `subjectAltName=${subjectAltName}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`,
  );
  openssl(
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.pem'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-out',
    p('server.pem'),
    '-days',
    '1',
    '-extfile',
    p('server.ext'),
  );
  return {
    dir,
    caCert: p('ca.pem'),
    otherCaCert: p('other-ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
  };
}
