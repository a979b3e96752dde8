/**
 * A third party's whole submission, field by field, in people's words: who (name, date of birth,
 * contact), where (address), what they do and earn, and the properties with their amounts. Read from
 * the stored details (src/customers/schema.ts) without trusting their shape: a field that is missing
 * or not the type the schema gives reads as "—".
 */
import type { ThirdPartyCustomer } from '../../storage/store.js';
import { html, type SafeHtml } from '../html.js';

type Fields = Record<string, unknown>;

const objectAt = (o: Fields, key: string): Fields => {
  const v = o[key];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Fields) : {};
};
const textAt = (o: Fields, key: string): string => {
  const v = o[key];
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
};

/**
 * An amount with its currency, digits grouped: `USD 750,000.5`.
 *
 * @example
 * money('USD', 750000.5); // 'USD 750,000.5'
 */
export function money(currency: string, value: unknown): string {
  if (typeof value !== 'number') return '';
  return `${currency} ${value.toLocaleString('en-US', { maximumFractionDigits: 20 })}`.trim();
}

function row(label: string, value: string | SafeHtml): SafeHtml {
  return html`<dt>${label}</dt><dd>${value === '' ? html`<span class="muted">—</span>` : value}</dd>`;
}

/** The address on one line per part: street, city (state) post code, country. */
function address(a: Fields): SafeHtml | '' {
  const line2 = [textAt(a, 'city'), textAt(a, 'state'), textAt(a, 'post_code')].filter(Boolean).join(' ');
  const parts = [textAt(a, 'address_line'), line2, textAt(a, 'country')].filter(Boolean);
  return parts.length === 0 ? '' : html`${parts.map((p, i) => html`${i > 0 ? html`<br>` : ''}${p}`)}`;
}

/** The submission as a definition list, then its properties. */
export function submission(t: ThirdPartyCustomer): SafeHtml {
  const d = t.clientCustomerDetails;
  const income = objectAt(d, 'income_range');
  const incomeCurrency = textAt(income, 'currency');
  const incomeText =
    typeof income.min_value === 'number' && typeof income.max_value === 'number'
      ? `${money(incomeCurrency, income.min_value)} – ${money(incomeCurrency, income.max_value)} a year`
      : '';
  const name = [textAt(d, 'first_name'), textAt(d, 'last_name')].filter(Boolean).join(' ');
  const properties = t.propertyDetails.map((p) => {
    const amount = objectAt(p, 'property_purchase_amount');
    const where = [textAt(p, 'unit_number'), textAt(p, 'building_name'), textAt(p, 'project_name')]
      .filter(Boolean)
      .join(', ');
    return html`<li><strong>${textAt(p, 'property_ref')}</strong>${where ? ` · ${where}` : ''}
      · <span class="amount">${money(textAt(amount, 'currency'), amount.value)}</span></li>`;
  });
  return html`<dl class="submission">
      ${row('Name', name)}
      ${row('Date of birth', textAt(d, 'date_of_birth'))}
      ${row('Email', textAt(d, 'email'))}
      ${row('Mobile phone', textAt(d, 'mobile_phone'))}
      ${row('Country', textAt(d, 'country'))}
      ${row('Address', address(objectAt(d, 'address')))}
      ${row('Occupation', textAt(d, 'occupation'))}
      ${row('Employer', textAt(d, 'employer_name'))}
      ${row('Income', incomeText)}
      ${row('Currency', textAt(d, 'currency'))}
    </dl>
    <h3 class="properties-title">Propert${t.propertyDetails.length === 1 ? 'y' : 'ies'} (${t.propertyDetails.length})</h3>
    <ul class="properties">${properties}</ul>`;
}
