// @ts-check
/**
 * The build's second step, after `tsc`: copies the dashboard's stylesheet and browser script, as they
 * are, into dist/ beside the compiled module that serves them (src/dashboard/assets.ts).
 */
import { cpSync } from 'node:fs';

const from = new URL('../src/dashboard/assets/', import.meta.url);
const to = new URL('../dist/dashboard/assets/', import.meta.url);
cpSync(from, to, { recursive: true });
