/**
 * 005: endpoint signing secrets, and the stored answers of idempotent POSTs (which contain them), are
 * kept encrypted (src/secrets): every value reads `v1:<key id>:<nonce>:<ciphertext>`. A migration
 * has no key, so rows stored before are encrypted by `openStorage` at the first start with one; from
 * this migration on, the database itself refuses a plaintext write, so a build older than this one
 * (or a code path that forgot to encrypt) fails loudly instead of storing a secret in the clear.
 */
export const sql = /* sql */ `
CREATE TRIGGER endpoint_secrets_encrypted_insert BEFORE INSERT ON endpoint_secrets
WHEN substr(NEW.secret, 1, 3) <> 'v1:'
BEGIN SELECT RAISE(ABORT, 'endpoint_secrets.secret must be stored encrypted'); END;

CREATE TRIGGER endpoint_secrets_encrypted_update BEFORE UPDATE OF secret ON endpoint_secrets
WHEN substr(NEW.secret, 1, 3) <> 'v1:'
BEGIN SELECT RAISE(ABORT, 'endpoint_secrets.secret must be stored encrypted'); END;

CREATE TRIGGER idempotency_keys_encrypted_insert BEFORE INSERT ON idempotency_keys
WHEN substr(NEW.body, 1, 3) <> 'v1:'
BEGIN SELECT RAISE(ABORT, 'idempotency_keys.body must be stored encrypted'); END;

CREATE TRIGGER idempotency_keys_encrypted_update BEFORE UPDATE OF body ON idempotency_keys
WHEN substr(NEW.body, 1, 3) <> 'v1:'
BEGIN SELECT RAISE(ABORT, 'idempotency_keys.body must be stored encrypted'); END;
`;
