import { createDataApiSql } from '../core/adapters/data-api/sql';
import { createPgSql } from '../core/adapters/pg/sql';
import { ENV, RUNTIME_ENV } from '../core/environment-names';
import type { SqlPool } from '../core/ports/sql';
import { HandlerConfigError } from './errors';

/** The Data API variables, in the order they are reported missing. */
const DATA_API_ENV = [ENV.dbClusterArn, ENV.dbSecretArn, ENV.dbName] as const;

/**
 * The database of a Lambda container: the RDS Data API (DB_CLUSTER_ARN,
 * DB_SECRET_ARN, DB_NAME) on AWS, or DATABASE_URL through pg (the local
 * runtime and tests).
 */
export function containerSql(env: NodeJS.ProcessEnv = process.env): SqlPool {
  const url = env[RUNTIME_ENV.databaseUrl];
  if (url) return createPgSql({ connectionString: url, max: 2 });
  const missing = missingDatabaseEnv(env);
  if (missing.length) throw new HandlerConfigError(missing, `(or ${RUNTIME_ENV.databaseUrl})`);
  return createDataApiSql({
    resourceArn: env[ENV.dbClusterArn]!,
    secretArn: env[ENV.dbSecretArn]!,
    database: env[ENV.dbName]!,
  });
}

/** The Data API variables containerSql would need and the environment lacks; none when DATABASE_URL is set. */
export function missingDatabaseEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return env[RUNTIME_ENV.databaseUrl] ? [] : DATA_API_ENV.filter((k) => !env[k]);
}
