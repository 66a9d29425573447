/**
 * Moved to functions/core/adapters/data-api/sql.ts (2026-12-04), beside its
 * parts, as adapters/pg/sql.ts. This re-export keeps the files other branches
 * are editing right now (functions/handlers, functions/runtime) compiling;
 * point them at data-api/sql and delete this file when they merge.
 */
export * from './data-api/sql';
