import type { BoundedQuery } from './postgres-bounded.js';
import type { StoredWebhook } from './store.js';

/**
 * How PostgresTokenStore seals and opens a key's webhook record: AES-256-GCM under the keyring,
 * bound to the key's sealing name and `:webhook` (as RedisTokenStore's record of the same key).
 */
export interface WebhookSealing {
  seal(plaintext: string): string;
  open(sealed: string): string;
}

/** `TokenStore.webhook` on Postgres: the key's `webhooks` row, opened (null: none). `s` is the quoted schema. */
export async function webhookIn(
  query: BoundedQuery,
  s: string,
  key: string,
  sealing: WebhookSealing,
): Promise<StoredWebhook | null> {
  const rows = (await query('webhook read', `SELECT sealed FROM ${s}.webhooks WHERE key = $1`, [key])) as {
    sealed: string;
  }[];
  const sealed = rows.at(0)?.sealed;
  return sealed ? (JSON.parse(sealing.open(sealed)) as StoredWebhook) : null;
}

/**
 * `TokenStore.saveWebhook` on Postgres: the schema's `save_webhook` function, a compare-and-set on
 * the stored id (in the clear: a Samsara id, no secret) under the row's lock; `next` null deletes.
 */
export async function saveWebhookIn(
  query: BoundedQuery,
  s: string,
  key: string,
  next: StoredWebhook | null,
  expectedId: string | null,
  sealing: WebhookSealing,
): Promise<boolean> {
  const record = next && { id: next.id, url: next.url, secretKey: next.secretKey };
  const rows = (await query('webhook write', `SELECT ${s}.save_webhook($1, $2, $3, $4) AS saved`, [
    key,
    expectedId,
    record?.id ?? null,
    record ? sealing.seal(JSON.stringify(record)) : null,
  ])) as { saved: boolean }[];
  return rows.at(0)?.saved ?? false;
}
