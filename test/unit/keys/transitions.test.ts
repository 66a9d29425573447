import { KEY_STATUSES } from '../../../functions/core/crypto/key-policy';
import { allowedKeyTransitionPairs, canTransitionKey, KEY_TRANSITIONS } from '../../../functions/core/keys/transitions';
import { up } from '../../../functions/core/schema/migrations/0001_key_catalog';

describe('key lifecycle transitions', () => {
  it('follows pending → active → rotating → retired → destroyed', () => {
    expect(canTransitionKey('pending', 'active')).toBe(true);
    expect(canTransitionKey('active', 'rotating')).toBe(true);
    expect(canTransitionKey('rotating', 'retired')).toBe(true);
    expect(canTransitionKey('retired', 'destroyed')).toBe(true);
  });

  it('refuses shortcuts and resurrection', () => {
    expect(canTransitionKey('active', 'retired')).toBe(false);
    expect(canTransitionKey('active', 'destroyed')).toBe(false);
    expect(canTransitionKey('rotating', 'destroyed')).toBe(false);
    for (const to of KEY_STATUSES) expect(canTransitionKey('destroyed', to)).toBe(false);
  });

  it('allows rollback to a key that still decrypts', () => {
    expect(canTransitionKey('rotating', 'active')).toBe(true);
    expect(canTransitionKey('retired', 'active')).toBe(true);
  });

  it('is the same table the database trigger of migration 0001 enforces', () => {
    const triggerPairs = [...up.matchAll(/\('([a-z]+)', '([a-z]+)'\)/g)].map((m) => `${m[1]}->${m[2]}`).sort();
    const codePairs = allowedKeyTransitionPairs()
      .map(([f, t]) => `${f}->${t}`)
      .sort();
    expect(triggerPairs).toEqual(codePairs);
    expect(Object.keys(KEY_TRANSITIONS).sort()).toEqual([...KEY_STATUSES].sort());
  });
});
