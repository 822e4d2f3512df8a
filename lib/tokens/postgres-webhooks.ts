import type { BoundedQuery } from './postgres-bounded.js';
import { webhookKeyOf } from './redis-schema.js';
import { open, seal, type SealingKey } from './seal.js';
import type { StoredWebhook } from './store.js';

/** Where a key's webhook record is sealed: `<the key's sealing name>:webhook`, as RedisTokenStore's record of it. */
function recordName(sealedAs: string): string {
  return webhookKeyOf(sealedAs);
}

/**
 * `TokenStore.webhook` on Postgres: the key's `webhooks` row, opened (null: none). `s` is the
 * quoted schema, `sealedAs` the key's sealing name.
 */
export async function webhookIn(
  query: BoundedQuery,
  s: string,
  key: string,
  keyring: readonly SealingKey[],
  sealedAs: string,
): Promise<StoredWebhook | null> {
  const rows = (await query('webhook read', `SELECT sealed FROM ${s}.webhooks WHERE key = $1`, [key])) as {
    sealed: string;
  }[];
  const sealed = rows.at(0)?.sealed;
  return sealed ? (JSON.parse(open(keyring, sealed, recordName(sealedAs))) as StoredWebhook) : null;
}

/**
 * `TokenStore.saveWebhook` on Postgres: the schema's `save_webhook` function, a compare-and-set on
 * the stored id (in the clear: a Samsara id, no secret) under the row's lock; `next` null deletes.
 * The record is sealed with AES-256-GCM under the keyring, as credentials are.
 */
export async function saveWebhookIn(
  query: BoundedQuery,
  s: string,
  key: string,
  change: { next: StoredWebhook | null; expectedId: string | null },
  keyring: readonly SealingKey[],
  sealedAs: string,
): Promise<boolean> {
  const record = change.next && { id: change.next.id, url: change.next.url, secretKey: change.next.secretKey };
  const rows = (await query('webhook write', `SELECT ${s}.save_webhook($1, $2, $3, $4) AS saved`, [
    key,
    change.expectedId,
    record?.id ?? null,
    record ? seal(keyring, JSON.stringify(record), recordName(sealedAs)) : null,
  ])) as { saved: boolean }[];
  return rows.at(0)?.saved ?? false;
}
