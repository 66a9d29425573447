import type { KeyStatus } from '../crypto/key-policy';

/**
 * The key lifecycle. pending → active → rotating → retired → destroyed, plus:
 * - rotating → active and retired → active: rollback makes the previous key
 *   primary again (its data is still readable, nothing was destroyed);
 * - pending → destroyed: an abandoned rotation's key that never encrypted.
 * Migration 0001 installs the same table as a trigger, so the database refuses
 * an invalid change even from raw SQL; a unit test keeps the two equal.
 */
export const KEY_TRANSITIONS: Readonly<Record<KeyStatus, readonly KeyStatus[]>> = {
  pending: ['active', 'destroyed'],
  active: ['rotating'],
  rotating: ['retired', 'active'],
  retired: ['active', 'destroyed'],
  destroyed: [],
};

export function canTransitionKey(from: KeyStatus, to: KeyStatus): boolean {
  return KEY_TRANSITIONS[from].includes(to);
}

/** Every allowed (from, to) pair, for the database trigger. */
export function allowedKeyTransitionPairs(): [KeyStatus, KeyStatus][] {
  return (Object.entries(KEY_TRANSITIONS) as [KeyStatus, readonly KeyStatus[]][]).flatMap(([from, tos]) =>
    tos.map((to): [KeyStatus, KeyStatus] => [from, to]),
  );
}
