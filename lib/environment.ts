/**
 * Environment variables the stack sets on the rekey functions. The names are
 * defined once, in functions/core/environment-names.ts, which the handlers
 * read them by (documented in docs/state-machine.md); only ids, ARNs, names
 * and numbers travel here, never key material.
 */
export { ENV, ENV_DEFAULTS, POWERTOOLS_ENV } from '../functions/core/environment-names';

export type { KeyringKind } from '../functions/core/keyring-kinds';
