/**
 * 028: a batch of completions and the claim that follows it, in one round trip and one commit
 * (issue 13).
 *
 * In a drain the dispatcher claims again as soon as its completions are written: the claims leave due
 * heads behind (a partner's room caps them), and every completion frees room. That was two
 * transactions a cycle, each with its commit (a WAL flush) and its round trip.
 * `tpcs_complete_claim` runs `tpcs_complete`, then `tpcs_claim` with the slots and heads the
 * completions freed, in the caller's one transaction. Its rows are the claim's, each with the number
 * of heads the completions promoted; when the claim returns none, one row with a NULL id carries it.
 *
 * The claim only ever try-locks and skips locked rows, so holding the completion's locks while it
 * runs adds no wait that could close a cycle; the completion's locks are held until the claim ends,
 * a few hundred microseconds more.
 */
export const sql = /* sql */ `
CREATE FUNCTION tpcs_complete_claim(ids text[], ats timestamptz[], durations int[], codes int[],
  errors text[], excerpts text[], statuses text[], next_ats timestamptz[], worker text, ok text[],
  per int, at timestamptz, lim int, lease_ms int, per_partner int)
RETURNS TABLE (id text, event_id text, event_seq text, endpoint_id text, customer_id text,
  client_customer_ref text, attempt_count int, retry_round_start int, created_at timestamptz, url text,
  payload text, secrets text[], more boolean, promoted int)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  n int;
BEGIN
  n := tpcs_complete(ids, ats, durations, codes, errors, excerpts, statuses, next_ats, worker, ok);
  RETURN QUERY SELECT c.*, n FROM tpcs_claim(per, at, lim, worker, lease_ms, per_partner) c;
  IF NOT FOUND THEN
    RETURN QUERY SELECT NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::int,
      NULL::int, NULL::timestamptz, NULL::text, NULL::text, NULL::text[], false, n;
  END IF;
END
$fn$;
`;
