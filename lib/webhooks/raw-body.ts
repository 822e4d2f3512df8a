import type { IncomingMessage } from 'node:http';
import { WebhookVerificationError } from '../errors/index.js';

// The raw bytes of a delivery, which the signature covers. Node's HTTP parser already enforces the
// framing (Content-Length, chunked encoding); what is left is a cap, and noticing that a body
// parser got there first. A dependency (raw-body) would bring little beyond this.

/** What `express.raw()` leaves on a request: the body, as a Buffer. */
type MaybeParsed = IncomingMessage & { body?: unknown };

/**
 * The request's body, at most `limit` bytes. A Buffer left by `express.raw()` is taken as it is;
 * a body another parser consumed is `SAMSARA_WEBHOOK_BODY_CONSUMED`; past the limit,
 * `SAMSARA_WEBHOOK_TOO_LARGE` (the rest is left unread: answer with `Connection: close`).
 */
export async function readRawBody(req: MaybeParsed, limit: number): Promise<Buffer> {
  if (Buffer.isBuffer(req.body)) {
    if (req.body.length > limit) throw tooLarge(limit);
    return req.body;
  }
  // A parser that read the stream ended it: the bytes are gone, whatever it left in req.body.
  if (req.readableEnded) {
    throw new WebhookVerificationError(
      "The webhook receiver found the request body already read: a body parser (express.json(), express.urlencoded(), express.text()...) ran before samsaraWebhooks(), and the raw bytes Samsara's signature covers are gone. Mount samsaraWebhooks() before any body parser (app.post(path, samsaraWebhooks(...)) ahead of app.use(express.json())), or give it express.raw({ type: '*/*' }).",
      { code: 'SAMSARA_WEBHOOK_BODY_CONSUMED' },
    );
  }
  if (Number(req.headers['content-length']) > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  // Not destroyed on an early exit, so that a 413 can still be answered on the socket.
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function tooLarge(limit: number): WebhookVerificationError {
  return new WebhookVerificationError(`The delivery is larger than the receiver's limit of ${limit} bytes.`, {
    code: 'SAMSARA_WEBHOOK_TOO_LARGE',
  });
}
