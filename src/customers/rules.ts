/**
 * The compliance rules a third-party customer's data must meet, as plain predicates over real
 * reference data: ISO 3166-1 countries, ISO 4217 currencies, E.164 phone numbering plans, the
 * calendar. The zod schemas in `schema.ts` attach them to fields so every problem gets its path.
 */
import currencyCodes from 'currency-codes';
import countries from 'i18n-iso-countries';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/** True for an assigned ISO 3166-1 alpha-3 code in upper case (`USA`, `SGP`). */
export function isCountryAlpha3(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && countries.alpha3ToAlpha2(code) !== undefined;
}

const UNITS_OF_ACCOUNT = new Set(['XDR', 'XSU', 'XUA']);

/**
 * True for an ISO 4217 code of a real currency (`USD`). Funds-only codes such as gold (`XAU`),
 * SDR (`XDR`), the test code (`XTS`) and "no currency" (`XXX`) are refused: nobody buys a flat in them.
 */
export function isCurrencyCode(code: string): boolean {
  if (!/^[A-Z]{3}$/.test(code)) return false;
  const currency = currencyCodes.code(code);
  if (!currency) return false;
  // currency-codes files most non-currencies under pseudo countries named `Zz…`; the units of
  // account of the IMF, ALBA and the African Development Bank are not, so they are named here.
  return !UNITS_OF_ACCOUNT.has(code) && !currency.countries.every((c) => c.startsWith('Zz'));
}

/** The number of minor-unit digits of an ISO 4217 currency (2 for USD, 0 for JPY). */
export function currencyDigits(code: string): number {
  return currencyCodes.code(code)?.digits ?? 2;
}

/**
 * True for a phone number written in E.164 (`+14155552671`) that is valid in its country's
 * numbering plan (full metadata, not just a plausible length).
 */
export function isValidE164Phone(value: string): boolean {
  if (!/^\+[1-9][0-9]{6,14}$/.test(value)) return false;
  const phone = parsePhoneNumberFromString(value);
  return phone?.isPossible() === true && phone.isValid();
}

/** Parses a calendar date `YYYY-MM-DD` that exists (no 2023-02-29); undefined otherwise. */
export function parseCalendarDate(value: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return undefined;
  }
  return date;
}

/** Age in whole years on `today` (UTC) of someone born on `birth`. */
export function ageOn(birth: Date, today: Date): number {
  let age = today.getUTCFullYear() - birth.getUTCFullYear();
  const beforeBirthday =
    today.getUTCMonth() < birth.getUTCMonth() ||
    (today.getUTCMonth() === birth.getUTCMonth() && today.getUTCDate() < birth.getUTCDate());
  if (beforeBirthday) age -= 1;
  return age;
}

/** The age of majority we require of a third-party customer. */
export const ADULT_AGE = 18;
/** Older than this is a typing error, not a customer. */
export const MAX_AGE = 130;

/** The number of decimals written in a finite number (`12.5` → 1). */
export function decimalPlaces(value: number): number {
  if (Number.isInteger(value)) return 0;
  const text = String(value);
  const exp = /e-(\d+)$/.exec(text);
  if (exp) return Number(exp[1]) + (text.split('e')[0]?.split('.')[1]?.length ?? 0);
  return text.split('.')[1]?.length ?? 0;
}
