/**
 * 025: delivery ids that sort by time, UUIDv7 as event ids already are (issue 13; SQLite: the same in
 * src/storage/ids.ts, no migration).
 *
 * A delivery's id was a random UUID (v4), and three B-trees are keyed by it: the deliveries' primary
 * key, `attempts (delivery_id)` and the leases' primary key. Each new entry went to a random leaf page,
 * so a batch of completions dirtied about one page of the attempts' index per delivery, a claim one of
 * the leases', and a decision one of the deliveries' key per endpoint. With ids in time order, the
 * deliveries that a claim or a completion handles together (written close together) sit on the same
 * few pages, at the right-hand end of each index.
 *
 * PostgreSQL 15 has no uuidv7() (18 has): this takes a random UUID and writes the Unix time in
 * milliseconds over its first 48 bits, then sets the version from 4 to 7 (bits 52 and 53 of the bytes,
 * counted from the low bit of the first byte). The variant bits and 74 random bits are
 * gen_random_uuid's. Ids written before this migration stay as they are: nothing orders by id.
 */
export const sql = /* sql */ `
CREATE FUNCTION tpcs_uuid7() RETURNS text
LANGUAGE sql VOLATILE PARALLEL SAFE AS $fn$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
        PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid::text
$fn$;
`;
