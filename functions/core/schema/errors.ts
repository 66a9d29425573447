import { RekeyError } from '../errors';

/** Base of the schema module's errors. None is retryable: they need an operator. */
export abstract class SchemaError extends RekeyError {}

/** The database carries a migration this build does not know: a newer rekey migrated it. */
export class SchemaTooNewError extends SchemaError {
  readonly code = 'SCHEMA_TOO_NEW';
  constructor(
    readonly databaseVersion: number,
    readonly codeVersion: number,
  ) {
    super(
      `the database schema is at version ${databaseVersion} but this build of rekey knows versions up to ${codeVersion}: ` +
        'upgrade rekey before running it against this database',
    );
  }
}

/** An applied migration differs from the one this build ships (edited after it was applied). */
export class MigrationChecksumError extends SchemaError {
  readonly code = 'MIGRATION_CHECKSUM';
  constructor(
    readonly version: number,
    readonly migrationName: string,
  ) {
    super(
      `migration ${version} (${migrationName}) was applied with different SQL than this build ships: ` +
        'a released migration must never be edited — add a new migration instead',
    );
  }
}

/** The database has none of rekey's tables yet (or not the one asked for). */
export class SchemaNotMigratedError extends SchemaError {
  readonly code = 'SCHEMA_NOT_MIGRATED';
  constructor(
    readonly databaseVersion: number,
    readonly requiredVersion: number,
  ) {
    super(
      `the database schema is at version ${databaseVersion}, this operation needs version ${requiredVersion}: run \`rekey migrate\``,
    );
  }
}

/** The migration list itself is malformed (duplicate or missing versions): a build error. */
export class MigrationListError extends SchemaError {
  readonly code = 'MIGRATION_LIST';
}
