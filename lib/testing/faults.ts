import type { Reply } from './replies.js';

// Scripted misbehaviour: per endpoint, a first-in first-out queue of faults, each spent by one request.

/**
 * Which endpoint a fault applies to. `api` covers `GET /me`, `/fleet/*` and `/webhooks*`.
 *
 * @example
 * ```ts
 * const endpoint: EmulatorEndpoint = 'token';
 * samsara.injectFault(endpoint, { type: 'drop' });
 * ```
 */
export type EmulatorEndpoint = 'authorize' | 'token' | 'revoke' | 'api';

/**
 * A misbehaviour for the next request(s) of an endpoint. The request is still counted.
 *
 * - `status`: answer this instead of processing.
 * - `hang`: never answer (until `stop()`).
 * - `drop`: destroy the socket without processing.
 * - `drop-after-grant`: process the request fully (a code is consumed, a refresh token rotated, a
 *   grant revoked), then destroy the socket without answering. Meant for the token endpoint, where
 *   it is the nastiest failure there is: the client saw an error, yet its refresh token is gone.
 * - `delay`: process normally after `ms` milliseconds.
 *
 * @example
 * ```ts
 * const fault: EmulatorFault = { type: 'status', status: 503, body: 'no healthy upstream', contentType: 'text/plain' };
 * samsara.injectFault('token', fault, 2);
 * ```
 */
export type EmulatorFault =
  | { type: 'status'; status: number; body?: string; contentType?: string; headers?: Record<string, string> }
  | { type: 'hang' }
  | { type: 'drop' }
  | { type: 'drop-after-grant' }
  | { type: 'delay'; ms: number };

export type FaultQueues = Record<EmulatorEndpoint, EmulatorFault[]>;

export function emptyFaultQueues(): FaultQueues {
  return { authorize: [], token: [], revoke: [], api: [] };
}

export function queueFault(queues: FaultQueues, endpoint: EmulatorEndpoint, fault: EmulatorFault, times: number): void {
  if (!Object.hasOwn(queues, endpoint))
    throw new RangeError(`Unknown endpoint ${JSON.stringify(endpoint)}: use authorize, token, revoke or api.`);
  for (let i = 0; i < times; i++) queues[endpoint].push(fault);
}

export function clearFaultQueues(queues: FaultQueues): void {
  for (const queue of Object.values(queues)) queue.length = 0;
}

/**
 * What a fault does before the request is processed: a reply to send instead, `hang` (send
 * nothing), `drop` (destroy the socket), or undefined (process it, after a `delay`).
 * `drop-after-grant` acts after processing, in the pipeline.
 */
export async function playFault(
  fault: EmulatorFault,
  pause: (ms: number) => Promise<void>,
): Promise<Reply | 'hang' | 'drop' | undefined> {
  switch (fault.type) {
    case 'status':
      return {
        status: fault.status,
        headers: { 'content-type': fault.contentType ?? 'text/plain', ...fault.headers },
        body: fault.body ?? '',
      };
    case 'hang':
    case 'drop':
      return fault.type;
    case 'delay':
      await pause(fault.ms);
      return undefined;
    case 'drop-after-grant':
      return undefined;
  }
}
