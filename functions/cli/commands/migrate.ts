import { migrate, schemaStatus } from '../../core/schema/migrate';
import { cliDatabase } from '../../runtime/cli-container';
import { EXIT, type CliIo, type GlobalOptions } from '../io';
import { printJson } from '../session';

/** `rekey migrate [--status]`: applies (or lists) the schema migrations rekey ships. */
export async function migrateCommand(
  globals: GlobalOptions,
  options: { status?: boolean },
  io: CliIo,
): Promise<number> {
  const sql = cliDatabase(globals, io.env);
  try {
    if (options.status) {
      const status = await schemaStatus(sql);
      if (globals.json) printJson(io, status);
      else {
        io.stdout(`Schema version ${status.databaseVersion} (this build ships ${status.codeVersion})\n`);
        for (const p of status.pending) io.stdout(`  pending: ${p.version} ${p.name}\n`);
      }
      return status.pending.length === 0 && status.databaseVersion <= status.codeVersion ? EXIT.ok : EXIT.failure;
    }
    const result = await migrate(sql);
    if (globals.json) printJson(io, result);
    else {
      for (const a of result.applied) io.stdout(`Applied migration ${a.version} (${a.name})\n`);
      io.stdout(
        `Schema is at version ${result.status.databaseVersion}${result.applied.length === 0 ? ' (nothing to do)' : ''}\n`,
      );
    }
    return EXIT.ok;
  } finally {
    await sql.close();
  }
}
