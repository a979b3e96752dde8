import type { Pool } from 'undici';

/** The admin token the benchmarks start `tpcs serve` with. */
export const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';

/**
 * The `n`th decision on a third party through the operator API: APPROVED, then REJECTED (with a
 * reason), alternating. Answers the response body; throws on any status but 200.
 */
export async function postDecision(api: Pool, customerId: string, ref: string, n: number): Promise<string> {
  const status = n % 2 ? 'REJECTED' : 'APPROVED';
  const body = JSON.stringify(
    status === 'REJECTED'
      ? { status, reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'bench' }] }
      : { status },
  );
  const r = await api.request({
    method: 'POST',
    path: `/api/v1/admin/customers/${customerId}/third-parties/${ref}/decision`,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body,
  });
  const text = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`decision: ${r.statusCode} ${text}`);
  return text;
}
