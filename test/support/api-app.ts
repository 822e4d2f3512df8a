import express, { type Request, type Response } from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { samsara, samsaraErrorHandler, type TokenManager } from 'passport-samsara';

/**
 * An app whose only route `/call` (any method) runs `route` with `req.samsara` bound to the
 * organization named in the `x-org` header (default 1001). The package's errors are answered by
 * `samsaraErrorHandler`; anything else thrown becomes a 500 naming it, so a test can tell a
 * caller's own abort from an `UpstreamError`.
 */
export async function startApiApp(options: {
  tokens: TokenManager;
  maxRateLimitWait?: number;
  route: (req: Request, res: Response) => Promise<void>;
}): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.use(
    samsara({
      tokens: options.tokens,
      key: (req) => req.get('x-org') ?? '1001',
      maxRateLimitWait: options.maxRateLimitWait,
    }),
  );
  app.all('/call', options.route);
  app.use(samsaraErrorHandler());
  app.use((err: unknown, _req: Request, res: Response, _next: express.NextFunction) => {
    res
      .status(500)
      .json({ thrown: { name: (err as Error)?.name ?? typeof err, message: (err as Error)?.message ?? String(err) } });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers the upstream response as is: its status and its body. */
export async function relay(res: Response, upstream: globalThis.Response): Promise<void> {
  res
    .status(upstream.status)
    .type('application/json')
    .send(await upstream.text());
}

export { until } from './clock.js';
