// The Redis schema of RedisTokenStore (and of the rate limiter beside it), in one table: every key
// and every hash field is named here, and only here, so that the stored format has one source.
// Changing a spelling here changes what existing data reads as: add, never rename.

/**
 * The fields of an organization's credentials hash (`<prefix>{org:<id>}`). Sealed values are
 * AES-256-GCM under the key's name; the rest is in the clear, so that listing opens nothing.
 */
export const FIELD = {
  /** The version (clear): a compare-and-set counter, started at Redis's clock in ms. */
  version: 'v',
  /** The current grant (sealed); '' for a tombstone. Also the webhook record's sealed value. */
  sealed: 'd',
  /** The current grant's id (clear). */
  grantId: 'c',
  /** The version a dead-grant removal replaced (clear): a late write expecting it may still land. */
  revivable: 'r',
  /** The retired grant ids, oldest first, space-separated (clear). */
  retiredIds: 'q',
  /** The fingerprint of the current grant's refresh token (clear): what a removal compares. */
  fingerprint: 'f',
  /** The fingerprint of the current credentials as a whole (clear): a write made again is recognised. */
  contentFingerprint: 'k',
  /** The current grant's expiry, ms (clear). */
  expiresAt: 'e',
  /** When the current grant was written, ms of Redis's clock (clear). */
  writtenAt: 'w',
  /** The current grant's region (clear). */
  region: 'rg',
  /** The current grant's client id (clear). */
  clientID: 'ci',
  /** The webhook record's id (clear), in the `:webhook` hash. */
  webhookId: 'id',
} as const;

/** The prefix of a retired grant's field, `g:<grant id>` (sealed). */
export const RETIRED_PREFIX = 'g:';
/** The prefix of a retired grant's refresh token fingerprint field, `h:<grant id>` (clear). */
export const RETIRED_FINGERPRINT_PREFIX = 'h:';

/** A retired grant's sealed field. */
export function retiredField(grantId: string): string {
  return `${RETIRED_PREFIX}${grantId}`;
}

/** A retired grant's fingerprint field. */
export function retiredFingerprintField(grantId: string): string {
  return `${RETIRED_FINGERPRINT_PREFIX}${grantId}`;
}

/** What every credentials key starts with after the prefix: the hash tag's opening. */
const CRED_HEAD = '{org:';
/** What every credentials key ends with: the hash tag's closing (lock, webhook and rate keys go on). */
const CRED_TAIL = '}';

/** The head of every credentials key under `prefix`: what a SCAN pattern or a channel is cut at. */
export function credHead(prefix: string): string {
  return `${prefix}${CRED_HEAD}`;
}

/** An organization's credentials hash, `<prefix>{org:<URI-encoded id>}`: one Cluster slot per organization. */
export function credKeyOf(prefix: string, key: string): string {
  return `${credHead(prefix)}${encodeURIComponent(key)}${CRED_TAIL}`;
}

/**
 * The SCAN pattern of every credentials key (`keyPrefix` is ioredis's, which SCAN does not add):
 * it ends with the tag's literal `}`, so lock and webhook keys (`…}:lock`) never match, and an
 * id cannot end it early (URI-encoded, it holds no brace). Glob characters of the prefix are escaped.
 */
export function credPattern(keyPrefix: string, prefix: string): string {
  return `${escapeGlob(keyPrefix + credHead(prefix))}*${CRED_TAIL}`;
}

/** The organization id a credentials key names, as SCAN returns it (with ioredis's `keyPrefix`). */
export function keyOfCredKey(keyPrefix: string, prefix: string, name: string): string {
  return decodeURIComponent(name.slice(keyPrefix.length + credHead(prefix).length, -CRED_TAIL.length));
}

/** The refresh lock of a credentials key: a string holding the holder's token, with a PX ttl. */
export function lockKeyOf(credKey: string): string {
  return `${credKey}:lock`;
}

/** The webhook record of a credentials key: a hash of {@link FIELD.webhookId} and {@link FIELD.sealed}. */
export function webhookKeyOf(credKey: string): string {
  return `${credKey}:webhook`;
}

/** The channel's tail: after the credentials key's full name. */
const CHANNEL_TAIL = ':done';

/** A key's channel: its full name (ioredis's `keyPrefix` too, which it leaves off channels), then `:done`. */
export function channelOf(keyPrefix: string, credKey: string): string {
  return `${keyPrefix}${credKey}${CHANNEL_TAIL}`;
}

/** The PSUBSCRIBE pattern of every key's channel under the prefix, glob characters escaped. */
export function channelPattern(keyPrefix: string, prefix: string): string {
  return `${escapeGlob(keyPrefix + credHead(prefix))}*${CRED_TAIL}${CHANNEL_TAIL}`;
}

/** The URI-encoded id a channel names (undecoded: a channel nobody encoded may not decode). */
export function encodedKeyOfChannel(keyPrefix: string, prefix: string, channel: string): string {
  return channel.slice((keyPrefix + credHead(prefix)).length, -(CRED_TAIL + CHANNEL_TAIL).length);
}

/** A claim, `<prefix>claim:{<URI-encoded name>}`: a string `p:<token>` while pending, `d:<token>` once done. */
export function claimKeyOf(prefix: string, name: string): string {
  return `${prefix}claim:{${encodeURIComponent(name)}}`;
}

/** An epoch marker's hash tag: `epoch:<n>`, one per Cluster master (0 on a standalone Redis). */
export function epochTagOf(n: number): string {
  return `epoch:${n}`;
}

/** An epoch marker, `<prefix>{epoch:<n>}`: a random id never given a TTL. */
export function epochKeyOf(prefix: string, tag: string): string {
  return `${prefix}{${tag}}`;
}

/** A rate limiter's bucket, `<prefix>{org:<id>}:rate:<bucket>`: in the organization's slot. */
export function rateKeyOf(prefix: string, orgId: string, bucket: string): string {
  return `${credHead(prefix)}${orgId}${CRED_TAIL}:rate:${bucket}`;
}

/**
 * The fields as Lua locals (`local F_VERSION = 'v'` ...), put at the top of every script so that
 * a script names its fields as the TypeScript side does. The values are fixed letters: no quoting.
 */
export const LUA_FIELDS = [
  ...Object.entries(FIELD).map(([name, field]) => `local F_${upper(name)} = '${field}'`),
  `local RETIRED_PREFIX = '${RETIRED_PREFIX}'`,
  `local RETIRED_FINGERPRINT_PREFIX = '${RETIRED_FINGERPRINT_PREFIX}'`,
].join('\n');

function upper(camel: string): string {
  return camel.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
