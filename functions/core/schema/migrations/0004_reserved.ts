/**
 * Migration 0004: reserved for a schema change made on another branch (the
 * formats branch numbers its own 0005). This placeholder keeps the list
 * contiguous on the formats branch only; the merge replaces it with the real
 * 0004 (a database that applied the placeholder is a throwaway test one).
 */
export const version = 4;
export const name = 'reserved';

export const up = `SELECT 1`;
