/**
 * 010: per-endpoint rate limit (issue 14; see ../../rate-limit.ts). `endpoints.rate_limit`: deliveries
 * per second the partner allows, NULL for no limit. `endpoints.rate_tat`: the limit's theoretical
 * arrival time in epoch milliseconds, REAL because the interval (1000 / rate ms) is rarely whole; written
 * by the claim, in its transaction, and cleared when the limit changes. `endpoints_rate_limited`: the
 * limited endpoints by TAT, for the dispatcher's "when does a limited endpoint get room again"
 * (`nextRateSlotAt`); empty while nothing is limited.
 */
export const sql = /* sql */ `
ALTER TABLE endpoints ADD COLUMN rate_limit INTEGER CHECK (rate_limit IS NULL OR rate_limit >= 1);
ALTER TABLE endpoints ADD COLUMN rate_tat REAL;
CREATE INDEX endpoints_rate_limited ON endpoints (rate_tat) WHERE rate_limit IS NOT NULL;
`;
