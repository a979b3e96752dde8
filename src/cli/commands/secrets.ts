import type { Command } from 'commander';
import { InvalidSecretsKeyError } from '../../secrets/errors.js';
import type { SecretsKeySource } from '../../secrets/unlock.js';
import { openStorage, parseDatabaseUrl } from '../../storage/index.js';
import {
  type Arguments,
  addOptions,
  commandAction,
  EXIT_CODES_HELP,
  jsonFlag,
  UsageError,
} from '../options.js';

/** The key settings as a command reads them (see `SECRETS_*` in src/config/settings.ts). */
interface KeySettings {
  databaseUrl: string;
  secretsKey?: string | undefined;
  secretsKeyFile?: string | undefined;
  secretsOldKeys?: string[] | undefined;
}

/**
 * Where `openStorage` finds the key, from a command's settings. A {@link UsageError} (exit 2) when both
 * `SECRETS_KEY` and `SECRETS_KEY_FILE` are set, and, for a command that reads or writes secrets
 * (`serve`, `worker`, `secrets rotate-key`), when PostgreSQL is used without either: processes on
 * several machines share that database, so the key cannot be generated beside it as it is for SQLite.
 *
 * @example
 * const storage = await openStorage(settings.databaseUrl, { secrets: secretsKeySource(settings, { needed: true }) });
 */
export function secretsKeySource(s: KeySettings, { needed }: { needed: boolean }): SecretsKeySource {
  if (s.secretsKey !== undefined && s.secretsKeyFile !== undefined) {
    throw new UsageError(
      'set SECRETS_KEY (--secrets-key) or SECRETS_KEY_FILE (--secrets-key-file), not both',
    );
  }
  if (needed && s.secretsKey === undefined && s.secretsKeyFile === undefined) {
    if (parseDatabaseUrl(s.databaseUrl).dialect === 'postgres') {
      throw new UsageError(
        'PostgreSQL needs SECRETS_KEY (--secrets-key) or SECRETS_KEY_FILE (--secrets-key-file): the key endpoint signing secrets are stored encrypted with, the same in every process (make one with: openssl rand -base64 32)',
      );
    }
  }
  return { key: s.secretsKey, keyFile: s.secretsKeyFile, oldKeys: s.secretsOldKeys };
}

const ARGUMENTS = {
  json: jsonFlag('print the counts as JSON'),
} as const satisfies Arguments;

/**
 * `tpcs secrets rotate-key`: re-encrypts every stored endpoint secret, notification secret (failure
 * alerts) and stored idempotent answer under `SECRETS_KEY`, reading each with the key it was encrypted under (`SECRETS_OLD_KEYS`). Each
 * batch is one transaction and replaces a value only if it is unchanged, so it may run beside the
 * service; running it again re-encrypts nothing. Exit 1 when a value's key is not configured.
 */
export function registerSecrets(program: Command): void {
  const secrets = program
    .command('secrets')
    .description('operator: the key that encrypts endpoint signing secrets in the database');
  const rotate = secrets
    .command('rotate-key')
    .description('re-encrypt every stored secret under SECRETS_KEY, reading old ones with SECRETS_OLD_KEYS');
  addOptions(rotate, 'secrets rotate-key', ARGUMENTS)
    .addHelpText(
      'after',
      `
Rotating the key (PostgreSQL, or SQLite with SECRETS_KEY), without stopping delivery:
  1. make a new key:                  openssl rand -base64 32
  2. restart every serve and worker with SECRETS_KEY=<new> SECRETS_OLD_KEYS=<old>
  3. re-encrypt what is stored:       SECRETS_KEY=<new> SECRETS_OLD_KEYS=<old> tpcs secrets rotate-key
  4. restart them with SECRETS_KEY=<new> alone (a start fails, naming the key, if anything is left)

SQLite with the generated key file (data/tpcs.db.key): stop the service, then
  $ mv data/tpcs.db.key data/tpcs.db.key.old
  $ SECRETS_OLD_KEYS=$(cat data/tpcs.db.key.old) tpcs secrets rotate-key   # writes a new data/tpcs.db.key
  start the service, and delete data/tpcs.db.key.old

Examples:
  $ SECRETS_KEY=$NEW SECRETS_OLD_KEYS=$OLD DATABASE_URL=postgres://… tpcs secrets rotate-key
  $ tpcs secrets rotate-key --database-url sqlite:./data/tpcs.db --secrets-old-keys "$OLD" --json
${EXIT_CODES_HELP}`,
    )
    .action(
      commandAction('secrets rotate-key', ARGUMENTS, async (options) => {
        const source = secretsKeySource(options, { needed: true });
        const storage = await openStorage(options.databaseUrl, { secrets: source }).catch(
          (error: unknown) => {
            // a key setting that is not a key (or a key file that cannot be read) is a usage error
            throw error instanceof InvalidSecretsKeyError ? new UsageError(error.message) : error;
          },
        );
        try {
          const rotated = await storage.rotateSecretsKey();
          const { keyId, encrypted, generated, keyFile } = storage.secrets;
          if (options.json) {
            console.log(
              JSON.stringify({
                key_id: keyId,
                key_file_generated: generated ? keyFile : null,
                reencrypted: {
                  endpoint_secrets: rotated.endpointSecrets,
                  notification_secrets: rotated.notificationSecrets,
                  idempotent_answers: rotated.idempotentAnswers,
                },
                plaintext_encrypted: {
                  endpoint_secrets: encrypted.endpointSecrets,
                  notification_secrets: encrypted.notificationSecrets,
                  idempotent_answers: encrypted.idempotentAnswers,
                },
              }),
            );
            return;
          }
          if (generated)
            console.log(`tpcs secrets rotate-key: generated a new key in ${keyFile} (mode 0600)`);
          const plaintext =
            encrypted.endpointSecrets + encrypted.notificationSecrets + encrypted.idempotentAnswers;
          console.log(
            `tpcs secrets rotate-key: re-encrypted ${rotated.endpointSecrets} endpoint secret(s), ${rotated.notificationSecrets} notification secret(s) and ${rotated.idempotentAnswers} stored answer(s) under key ${keyId}` +
              (plaintext > 0 ? ` (and encrypted ${plaintext} value(s) still stored in plaintext)` : '') +
              '; every stored secret is now under this key.',
          );
        } finally {
          await storage.close();
        }
      }),
    );
}
