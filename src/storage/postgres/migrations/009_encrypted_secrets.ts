/**
 * 009: endpoint signing secrets, and the stored answers of idempotent POSTs (which contain them), are
 * kept encrypted (src/secrets): every value reads `v1:<key id>:<nonce>:<ciphertext>`. A migration
 * has no key, so rows stored before are encrypted by `openStorage` at the first start with one. The
 * checks are NOT VALID: rows already there are not checked, every row written from now on is, so a
 * build older than this one (or a code path that forgot to encrypt) fails loudly instead of storing a
 * secret in the clear.
 */
export const sql = /* sql */ `
ALTER TABLE endpoint_secrets ADD CONSTRAINT endpoint_secrets_encrypted
  CHECK (substr(secret, 1, 3) = 'v1:') NOT VALID;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_encrypted
  CHECK (substr(body, 1, 3) = 'v1:') NOT VALID;
`;
