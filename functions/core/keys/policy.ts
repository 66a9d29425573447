/**
 * Moved to functions/core/crypto/key-policy.ts (2026-12-04): the policy the
 * EnvelopeCipher enforces belongs beside it, so crypto/ no longer imports
 * keys/. This re-export keeps the files other branches are editing right now
 * (functions/runtime, core/plan, core/reencrypt) compiling; point them at
 * crypto/key-policy and delete this file when they merge.
 */
export * from '../crypto/key-policy';
