import { type Queryable, statement } from './db.js';
import type { Row } from './tables.js';

const get = statement<Pick<Row<'settings'>, 'value'>>(
  'setting_get',
  'SELECT value FROM settings WHERE key = $1',
);
const insert = statement(
  'setting_insert',
  'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',
);

/** A singleton setting such as the operator token hash. */
export async function getSetting(db: Queryable, key: string): Promise<string | undefined> {
  return (await get.run(db, [key])).rows[0]?.value;
}

/** Sets only if absent; true when it was set. */
export async function setSettingIfAbsent(db: Queryable, key: string, value: string): Promise<boolean> {
  return (await insert.run(db, [key, value])).rowCount === 1;
}
