import { createDataApiSql } from '../../core/adapters/data-api-sql';
import { createPgSql } from '../../core/adapters/pg/sql';
import type { SqlPool } from '../../core/ports/sql';
import { HandlerConfigError } from './errors';

/**
 * The database of a Lambda container: the RDS Data API (DB_CLUSTER_ARN,
 * DB_SECRET_ARN, DB_NAME) on AWS, or DATABASE_URL through pg (the local
 * runtime and tests).
 */
export function containerSql(env: NodeJS.ProcessEnv = process.env): SqlPool {
  if (env.DATABASE_URL) return createPgSql({ connectionString: env.DATABASE_URL, max: 2 });
  const missing = missingDatabaseEnv(env);
  if (missing.length) throw new HandlerConfigError(missing, '(or DATABASE_URL)');
  return createDataApiSql({ resourceArn: env.DB_CLUSTER_ARN!, secretArn: env.DB_SECRET_ARN!, database: env.DB_NAME! });
}

/** The Data API variables containerSql would need and the environment lacks; none when DATABASE_URL is set. */
export function missingDatabaseEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return env.DATABASE_URL ? [] : ['DB_CLUSTER_ARN', 'DB_SECRET_ARN', 'DB_NAME'].filter((k) => !env[k]);
}
