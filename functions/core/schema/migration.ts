/**
 * One versioned schema change. Shipped as a TypeScript module (not a .sql file)
 * because the Lambda functions are esbuild bundles with no files beside them.
 *
 * `up` is either a list of statements or one script; a script is split into
 * statements (dollar-quoting and comments respected) because the RDS Data API
 * runs one statement per call.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly up: string | readonly string[];
}
