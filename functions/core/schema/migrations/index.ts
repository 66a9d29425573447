import type { Migration } from '../migration';
import * as m0001 from './0001_key_catalog';
import * as m0002 from './0002_reencryption_jobs';
import * as m0003 from './0003_known_tables';
import * as m0004 from './0004_readers';
import * as m0005 from './0005_fernet_keys';

/** Every migration this build ships, in order. Appending one is one import and one entry here. */
export const MIGRATIONS: readonly Migration[] = [m0001, m0002, m0003, m0004, m0005];
