import type { Database } from 'better-sqlite3';
import type { Row } from './tables.js';

/** Singletons such as the operator token hash. */
export function settingQueries(db: Database) {
  const get = db.prepare<[string], string>('SELECT value FROM settings WHERE key = ?').pluck();
  const insert = db.prepare<Row<'settings'>>(
    'INSERT INTO settings (key, value) VALUES (@key, @value) ON CONFLICT (key) DO NOTHING',
  );
  return {
    get: (key: string): string | undefined => get.get(key),
    setIfAbsent: (key: string, value: string): boolean => insert.run({ key, value }).changes === 1,
  };
}
