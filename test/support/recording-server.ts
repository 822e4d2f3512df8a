import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the server received it. */
export interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** The client's end of the connection: the same port for requests that reused one. */
  remotePort?: number;
}

type Reply = (res: ServerResponse) => void;

/**
 * A real HTTP server that records what it receives and answers with scripted replies, for the
 * tests that must see the exact bytes a client sends or feed it a broken answer.
 */
export async function startRecordingServer(): Promise<{
  url: string;
  requests: Recorded[];
  reply(handler: Reply): void;
  stop(): Promise<void>;
}> {
  const requests: Recorded[] = [];
  let handler: Reply = (res) => res.writeHead(500).end();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
        remotePort: req.socket.remotePort,
      });
      handler(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    reply(next) {
      handler = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A reply with a JSON body. */
export function json(status: number, body: unknown): Reply {
  return (res) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
