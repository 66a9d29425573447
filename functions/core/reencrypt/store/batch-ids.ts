export interface BatchRef {
  readonly table: string;
  readonly seq: number;
}

/**
 * A batch as one string, for queue messages: `<table>#<seq>`. Registry names
 * are plain identifiers (optionally `schema.name`), so `#` never occurs in them.
 */
export function batchIdOf(ref: BatchRef): string {
  return `${ref.table}#${ref.seq}`;
}

/** Parses `batchIdOf`'s form; undefined when malformed. */
export function parseBatchId(batchId: string): BatchRef | undefined {
  const m = /^([A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)?)#(0|[1-9][0-9]{0,9})$/.exec(batchId);
  return m ? { table: m[1]!, seq: Number(m[2]) } : undefined;
}
