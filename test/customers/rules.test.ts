import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { complianceDecisionSchema } from '../../src/customers/decisions.js';
import {
  ageOn,
  decimalPlaces,
  isCountryAlpha3,
  isCurrencyCode,
  isValidE164Phone,
  parseCalendarDate,
} from '../../src/customers/rules.js';
import { newThirdPartyCustomerSchema } from '../../src/customers/schema.js';
import { validThirdParty } from './fixtures.js';

describe('compliance rules', () => {
  it('knows ISO 3166-1 alpha-3 countries, upper case only', () => {
    for (const c of ['USA', 'SGP', 'ARE', 'GBR', 'DEU']) expect(isCountryAlpha3(c), c).toBe(true);
    for (const c of ['US', 'usa', 'XXX', 'ZZZ', 'UK', '', 'USAA']) expect(isCountryAlpha3(c), c).toBe(false);
  });

  it('knows ISO 4217 currencies and refuses funds, metals and test codes', () => {
    for (const c of ['USD', 'EUR', 'JPY', 'SGD', 'AED']) expect(isCurrencyCode(c), c).toBe(true);
    for (const c of ['usd', 'XAU', 'XXX', 'XTS', 'XDR', 'ABC', 'US'])
      expect(isCurrencyCode(c), c).toBe(false);
  });

  it('accepts only valid E.164 numbers', () => {
    for (const n of ['+14155552671', '+447911123456', '+6591234567', '+971501234567']) {
      expect(isValidE164Phone(n), n).toBe(true);
    }
    for (const n of ['14155552671', '+1415555267', '+1 415 555 2671', '+999123456', '+0123456789', '']) {
      expect(isValidE164Phone(n), n).toBe(false);
    }
  });

  it('parses real calendar dates only', () => {
    expect(parseCalendarDate('2024-02-29')?.toISOString()).toBe('2024-02-29T00:00:00.000Z');
    for (const d of [
      '2023-02-29',
      '2024-04-31',
      '2024-13-01',
      '2024-1-01',
      '20240101',
      '2024-01-01T00:00:00Z',
    ]) {
      expect(parseCalendarDate(d), d).toBeUndefined();
    }
  });

  it('counts age in whole years, the day before the birthday included', () => {
    const born = new Date(Date.UTC(2000, 5, 15));
    expect(ageOn(born, new Date(Date.UTC(2018, 5, 14)))).toBe(17);
    expect(ageOn(born, new Date(Date.UTC(2018, 5, 15)))).toBe(18);
  });

  it('counts decimals', () => {
    expect([1, 1.5, 1.25, 1e-7, 100].map(decimalPlaces)).toEqual([0, 1, 2, 7, 0]);
  });
});

describe('the third-party customer schema', () => {
  it('accepts the fixture and variations without optional fields', () => {
    expect(newThirdPartyCustomerSchema.safeParse(validThirdParty()).success).toBe(true);
    const minimal = validThirdParty();
    delete (minimal.client_customer_details.address as { state?: string }).state;
    delete (minimal.client_customer_details as { employer_name?: string }).employer_name;
    expect(newThirdPartyCustomerSchema.safeParse(minimal).success).toBe(true);
  });

  it('refuses a customer one day short of 18', () => {
    const today = new Date();
    const dob = new Date(Date.UTC(today.getUTCFullYear() - 18, today.getUTCMonth(), today.getUTCDate() + 1));
    const body = validThirdParty();
    body.client_customer_details.date_of_birth = dob.toISOString().slice(0, 10);
    const result = newThirdPartyCustomerSchema.safeParse(body);
    expect(result.success).toBe(false);
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(() => newThirdPartyCustomerSchema.safeParse(value)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});

describe('the compliance decision schema', () => {
  const reason = { code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance check failed' };
  it.each([
    [{ status: 'APPROVED' }, true],
    [{ status: 'REJECTED', reasons: [reason] }, true],
    [{ status: 'REJECTED' }, false],
    [{ status: 'REJECTED', reasons: [] }, false],
    [{ status: 'APPROVED', reasons: [reason] }, false],
    [{ status: 'APPROVED', reasons: [] }, false],
    [{ status: 'REJECTED', reasons: [{ code: 'Bad-Code', reason: 'x' }] }, false],
    [{ status: 'PENDING' }, false],
  ])('%j → %s', (body, ok) => {
    expect(complianceDecisionSchema.safeParse(body).success).toBe(ok);
  });
});
