import type { RegistryProblem } from '../errors';
import type { EncryptMapping } from './registry';

/** The columns of one registry table, as validated so far (table-validation.ts). */
export interface TableColumns {
  readonly idColumn?: string | undefined;
  readonly keyIdColumn?: string | undefined;
  readonly tenantColumn?: string | undefined;
  readonly columns: readonly string[];
  readonly blindIndex: Readonly<Record<string, string>>;
  readonly encrypt: readonly EncryptMapping[];
}

type Claim = (column: string | undefined, role: string, path: string) => void;

/** Every column must play one role only: a column written twice in one UPDATE is an error there too. */
export function crossCheck(t: TableColumns, at: string, problems: RegistryProblem[]): void {
  const claim = roleClaimer(problems);
  claim(t.idColumn, 'the id column', `${at}.idColumn`);
  t.columns.forEach((c, j) => claim(c, 'an encrypted column', `${at}.columns[${j}]`));
  claim(t.keyIdColumn, 'the key id column', `${at}.keyIdColumn`);
  claim(t.tenantColumn, 'the tenant column', `${at}.tenantColumn`);
  const claimHash = hashClaimer(claim, problems);
  for (const [col, hash] of Object.entries(t.blindIndex)) claimHash(hash, col, `${at}.blindIndex.${col}`);
  checkEncryptMappings(t, at, problems, claim, claimHash);
}

/** Records the first role of each column; a second, different role is a problem. */
function roleClaimer(problems: RegistryProblem[]): Claim {
  const roles = new Map<string, string>();
  return (column, role, path) => {
    if (!column) return;
    const other = roles.get(column);
    if (other !== undefined && other !== role) {
      problems.push({ path, message: `column ${JSON.stringify(column)} is already used as ${other}` });
    } else roles.set(column, role);
  };
}

/** A blind index column indexes one encrypted column, and plays no other role. */
function hashClaimer(claim: Claim, problems: RegistryProblem[]): (hash: string, owner: string, path: string) => void {
  const hashOwners = new Map<string, string>();
  return (hash, owner, path) => {
    const other = hashOwners.get(hash);
    if (other !== undefined) {
      problems.push({
        path,
        message: `blind index column ${JSON.stringify(hash)} is already the index of ${JSON.stringify(other)}`,
      });
      return;
    }
    hashOwners.set(hash, owner);
    claim(hash, 'a blind index column', path);
  };
}

/** Encrypt mode: each target has one source, and a mapping's blind index agrees with `blindIndex`. */
function checkEncryptMappings(
  t: TableColumns,
  at: string,
  problems: RegistryProblem[],
  claim: Claim,
  claimHash: (hash: string, owner: string, path: string) => void,
): void {
  const targets = new Map<string, string>();
  for (const m of t.encrypt) {
    const path = `${at}.encrypt.${m.source}`;
    claim(m.source, 'a plaintext source column', path);
    const other = targets.get(m.target);
    if (other !== undefined) {
      problems.push({
        path: `${path}.target`,
        message: `${JSON.stringify(m.target)} is already the target of ${JSON.stringify(other)}`,
      });
    } else targets.set(m.target, m.source);
    if (m.blindIndex) {
      const declared = t.blindIndex[m.target];
      if (declared !== undefined && declared !== m.blindIndex) {
        problems.push({
          path: `${path}.blindIndex`,
          message: `conflicts with blindIndex.${m.target} = ${JSON.stringify(declared)}`,
        });
      } else if (declared === undefined) claimHash(m.blindIndex, m.target, `${path}.blindIndex`);
    }
  }
}
