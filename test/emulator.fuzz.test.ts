import { expect } from 'chai';
import fc from 'fast-check';
import { connect } from 'node:net';
import { startSamsaraEmulator, type IssuedGrant, type SamsaraEmulator } from 'passport-samsara/testing';

// Malformed raw HTTP over a real socket: the emulator must answer each request (or hang up, as
// Node's parser does on what is not HTTP), never with a 500 of its own, and must then still serve a
// normal GET /me. A failure prints fast-check's seed and the shrunk request; FUZZ_SEED replays it.

const SEED = Number(process.env.FUZZ_SEED ?? 20250301);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
/** fast-check stops starting new runs after this; the runs so far still count. */
const TIME_LIMIT_MS = 30_000;
/** How long one raw request may go unanswered: longer than any answer, short enough for many runs. */
const ANSWER_WAIT_MS = 1_500;

interface RawAnswer {
  /** Status codes, in order (several when the bytes held several requests, or a 100 Continue). */
  statuses: number[];
  /** Status line and headers of each, in the same order. */
  heads: string[];
  /** The bodies, in the same order. */
  bodies: string[];
  /** Bytes that did not start an HTTP/1.1 answer, if any. */
  garbage: string | undefined;
  /** How the exchange ended. */
  end: 'answered' | 'closed' | 'timeout';
}

/** Writes the bytes, optionally half-closes, and collects answers until the socket closes or ANSWER_WAIT_MS passes. */
function exchange(url: string, bytes: Buffer, halfClose: boolean, head: boolean): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let end: RawAnswer['end'] = 'closed';
    const timer = setTimeout(() => {
      end = 'timeout';
      socket.destroy();
    }, ANSWER_WAIT_MS);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // Done once the bytes hold a complete final answer: keep-alive would otherwise wait for the timer.
      if (parseAnswers(Buffer.concat(chunks), head).complete) {
        end = 'answered';
        socket.destroy();
      }
    });
    socket.on('error', () => {}); // a reset is one way for the server to refuse; the close tells
    socket.on('close', () => {
      clearTimeout(timer);
      const { statuses, heads, bodies, garbage } = parseAnswers(Buffer.concat(chunks), head);
      resolve({ statuses, heads, bodies, garbage, end });
    });
    socket.write(bytes, () => {
      if (halfClose) socket.end();
    });
  });
}

/**
 * The answers in `data`: status line, headers, then a body framed by Content-Length or chunked
 * (the emulator's replies are chunked), none for HEAD. `complete`: the last one is final and whole.
 */
function parseAnswers(data: Buffer, head: boolean): Omit<RawAnswer, 'end'> & { complete: boolean } {
  const statuses: number[] = [];
  const heads: string[] = [];
  const bodies: string[] = [];
  let rest = data;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) return { statuses, heads, bodies, garbage: undefined, complete: false };
    const text = rest.subarray(0, headEnd).toString('latin1');
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(text);
    if (!status) return { statuses, heads, bodies, garbage: text.slice(0, 200), complete: false };
    const final = Number(status[1]) >= 200;
    statuses.push(Number(status[1]));
    heads.push(text);
    rest = rest.subarray(headEnd + 4);
    const framed =
      !final || head
        ? { body: Buffer.alloc(0), rest }
        : /\r\ntransfer-encoding: *chunked/i.test(text)
          ? unchunk(rest)
          : byLength(rest, text);
    if (!framed) return { statuses, heads, bodies, garbage: undefined, complete: false };
    bodies.push(framed.body.toString('utf8'));
    rest = framed.rest;
    if (final && rest.length === 0) return { statuses, heads, bodies, garbage: undefined, complete: true };
  }
}

function byLength(data: Buffer, head: string): { body: Buffer; rest: Buffer } | undefined {
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
  return data.length < length ? undefined : { body: data.subarray(0, length), rest: data.subarray(length) };
}

function unchunk(data: Buffer): { body: Buffer; rest: Buffer } | undefined {
  const parts: Buffer[] = [];
  for (let at = 0; ;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (size === 0)
      return data.length < lineEnd + 4 ? undefined : { body: Buffer.concat(parts), rest: data.subarray(lineEnd + 4) };
    if (data.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

// ---- the requests ------------------------------------------------------------------------------

const ENDPOINTS = [
  '/oauth2/token',
  '/oauth2/revoke',
  '/oauth2/authorize',
  '/me',
  '/me/',
  '/fleet/vehicles',
  '/fleet/vehicles/',
  '/fleet/x',
  '/',
];
/** Characters that break naive parsers: percent signs, separators, non-ASCII, controls a parser may pass. */
const ODD = [
  '%',
  '%%',
  '%zz',
  '%E0%A4%A',
  '%00',
  '%2F',
  '%C0%AF',
  '/',
  '//',
  '\\',
  '..',
  '?',
  '&',
  '=',
  '+',
  '#',
  ';',
  '@',
  ':',
  'é',
  '漢',
  '😀',
  '\u00a0',
  '\t',
];

const oddText = fc
  .array(fc.oneof(fc.constantFrom(...ODD), fc.string({ maxLength: 6 })), { maxLength: 8 })
  .map((parts) => parts.join(''));
/**
 * Odd text fit for a request line: Node's parser refuses raw whitespace, controls and non-ASCII
 * there (a few constant targets still send them), so these are percent-encoded, as a client would.
 */
const oddPath = oddText.map((text) => text.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c)));
const query = fc.oneof(
  fc.constant(''),
  oddPath.map((q) => `?${q}`),
  fc.constantFrom('?limit=%zz&after=%', '?limit=1e3', '?after=', '?limit=1&limit=2', '?client_id=%&redirect_uri=%'),
);

const target = fc.oneof(
  fc.constantFrom(
    '//',
    '///',
    '//me',
    '//oauth2/token',
    '*',
    '',
    'x',
    '?',
    '/m\u00e9',
    '/me\t',
    '/fleet/vehicles?after=漢',
    'http://x',
    'http://x/me',
    'HTTP://X/oauth2/token',
    'https://evil.example/fleet/vehicles?limit=1',
    'http://',
    'http:/me',
    'http://[::1',
    'ftp://x/me',
    '/\\\\evil.example/',
    '/me/..',
    '/me#frag',
    '/%',
    '/%zz',
    '/me%',
  ),
  fc.tuple(fc.constantFrom(...ENDPOINTS), query).map(([path, q]) => path + q),
  fc.tuple(fc.constantFrom('/', '/fleet/', '/me', '/oauth2/'), oddPath, query).map(([path, odd, q]) => path + odd + q),
  // Long paths, written short so that a failure prints short: see fill().
  fc
    .tuple(
      fc.constantFrom('/', 'a', '%', 'é'),
      fc.integer({ min: 1_000, max: 15_000 }),
      fc.constantFrom('', 'x', '/', '?after=x'),
    )
    .map(([unit, n, tail]) => `/fleet/{${unit}*${n}}${tail}`),
);

const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'POST') },
  {
    weight: 3,
    arbitrary: fc.constantFrom('PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'PROPFIND', 'M-SEARCH', 'QUERY', 'TRACE'),
  },
  { weight: 1, arbitrary: fc.constantFrom('CONNECT', 'get', 'FOO', 'G\tET', '', 'GET GET', 'ÉGET') },
);

const base64 = (text: string | Buffer) => Buffer.from(text).toString('base64');

/** Values of Authorization; `{valid}` stands for the emulator's own client credentials, `{victim}` for a live token. */
const authorization = fc.oneof(
  fc.constantFrom(
    '{valid}',
    'Basic',
    'Basic ',
    'Basic !!!',
    'Basic ====',
    `Basic ${base64('no-colon')}`,
    `Basic ${base64(':')}`,
    `Basic ${base64('%zz:%zz')}`,
    `Basic ${base64(Buffer.from([0xff, 0xfe, 0x3a, 0xc0]))}`,
  ),
  fc.constantFrom(
    'Bearer',
    'Bearer ',
    'Bearer  x y',
    'bearer {victim}',
    'Bearer {victim}',
    'Bearer {a*8000}',
    'Digest x',
    'Basic{valid}',
  ),
  oddText,
);

const contentType = fc.oneof(
  fc.constantFrom(
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded; charset=utf-8',
    'APPLICATION/X-WWW-FORM-URLENCODED;',
    'application/x-www-form-urlencodedx',
  ),
  fc.constantFrom(
    'application/json',
    'multipart/form-data; boundary=x',
    'text/plain',
    '',
    ';;;',
    'application/x-www-form-urlencoded, application/json',
  ),
  oddText,
);

type Header = [name: string, value: string];
const header: fc.Arbitrary<Header> = fc.oneof(
  { weight: 4, arbitrary: authorization.map((v): Header => ['Authorization', v]) },
  { weight: 4, arbitrary: contentType.map((v): Header => ['Content-Type', v]) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Header>(
      ['Expect', '100-continue'],
      ['Expect', 'coffee'],
      ['Connection', 'Upgrade'],
      ['Upgrade', 'websocket'],
      ['Connection', 'close'],
      ['Connection', 'keep-alive, close'],
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Header>(
      ['Host', ''],
      ['Host', 'a b'],
      ['Host', 'evil.example:99999'],
      ['Content-Length', '-1'],
      ['Content-Length', 'abc'],
      ['Content-Length', '99999999999999999999'],
      ['Transfer-Encoding', 'gzip'],
      ['Transfer-Encoding', 'chunked, chunked'],
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Header>(
      ['X-Big', '{a*20000}'],
      ['X-Many', '{b*7000}'],
      ['Bad Name', 'x'],
      [' Leading', 'x'],
      ['X-Ünicode', 'é'],
      ['X-Ctl', 'a\u0001b'],
      ['', 'empty name'],
    ),
  },
  { weight: 2, arbitrary: fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/), oddText) },
);

const FORM_NAMES = [
  'grant_type',
  'refresh_token',
  'code',
  'redirect_uri',
  'code_verifier',
  'token',
  'token_type_hint',
  'client_id',
  'client_secret',
  'decision',
  'org_id',
  'response_type',
  'state',
];
const formValue = fc.oneof(
  fc.constantFrom(
    'refresh_token',
    'authorization_code',
    'password',
    '{victim}',
    '{victimRefresh}',
    'allow',
    'deny',
    '2002',
    'code',
    'http://127.0.0.1:9/cb',
    'samsara-emulator-client',
    '',
  ),
  oddText,
);
const formBody = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...FORM_NAMES), oddText), formValue), { maxLength: 6 })
  .map((pairs) => pairs.map(([k, v]) => `${encodeMaybe(k)}=${encodeMaybe(v)}`).join('&'));
/** Half the odd text goes raw into the form: invalid percent-encoding is the point. */
function encodeMaybe(text: string): string {
  return text.length % 2 === 0 ? encodeURIComponent(text) : text;
}

const body = fc.oneof(
  { weight: 5, arbitrary: formBody.map((text) => Buffer.from(text)) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('{"grant_type":"refresh_token"}', '', '&&&==', '%', 'a=%zz&b=%E0%A4%A')
      .map((text) => Buffer.from(text)),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 1, arbitrary: fc.integer({ min: 16_000, max: 40_000 }).map((n) => Buffer.from(`token={x*${n}}`)) },
);

/** How the body travels: as declared, truncated then half-closed, chunked (well or badly), or undeclared. */
const framing = fc.constantFrom(
  'content-length',
  'content-length',
  'content-length',
  'truncated',
  'chunked',
  'bad-chunked',
  'none',
  'over-declared',
);

interface RawRequest {
  method: string;
  target: string;
  headers: Header[];
  body: Buffer;
  framing: string;
}

const rawRequest: fc.Arbitrary<RawRequest> = fc.record({
  method,
  target,
  headers: fc.array(header, { maxLength: 5 }),
  body,
  framing,
});

function render(
  request: RawRequest,
  emulator: SamsaraEmulator,
  victim: IssuedGrant,
): { bytes: Buffer; halfClose: boolean } {
  const fill = (text: string) =>
    text
      .replace(/\{(.)\*(\d+)\}/gu, (_, unit: string, n: string) => unit.repeat(Number(n)))
      .replaceAll('{valid}', base64(`${emulator.clientID}:${emulator.clientSecret}`))
      .replaceAll('{victimRefresh}', victim.refreshToken)
      .replaceAll('{victim}', victim.accessToken);
  const lines = [`${request.method} ${fill(request.target)} HTTP/1.1`, `Host: ${new URL(emulator.baseURL).host}`];
  for (const [name, value] of request.headers) lines.push(`${name}: ${fill(value)}`);
  // Bytes stay bytes: latin1 maps each to one character and back.
  let payload = Buffer.from(fill(request.body.toString('latin1')), 'latin1');
  const hasBody = request.method !== 'GET' || request.body.length % 3 === 0;
  let halfClose = false;
  if (hasBody) {
    switch (request.framing) {
      case 'content-length':
        lines.push(`Content-Length: ${payload.length}`);
        break;
      case 'truncated':
        lines.push(`Content-Length: ${payload.length + 10}`);
        halfClose = true;
        break;
      case 'over-declared':
        lines.push('Content-Length: 1000000');
        halfClose = true;
        break;
      case 'chunked':
        lines.push('Transfer-Encoding: chunked');
        payload = Buffer.concat([
          Buffer.from(`${payload.length.toString(16)}\r\n`),
          payload,
          Buffer.from('\r\n0\r\n\r\n'),
        ]);
        break;
      case 'bad-chunked':
        lines.push('Transfer-Encoding: chunked');
        payload = Buffer.concat([Buffer.from('zz\r\n'), payload]);
        break;
      case 'none':
        break; // the body bytes read as the next request
    }
  } else {
    payload = Buffer.alloc(0);
  }
  return { bytes: Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), payload]), halfClose };
}

describe('Samsara emulator: malformed requests (fuzz)', function () {
  this.timeout(TIME_LIMIT_MS + 30_000);
  let emulator: SamsaraEmulator;

  before(async () => {
    emulator = await startSamsaraEmulator({
      // The probe must never meet a rate limit: they are not what this test is about.
      rateLimit: 1_000_000,
      orgRateLimit: 1_000_000,
      vehiclesRateLimit: 1_000_000,
      organizations: [
        { id: '1001', name: "Charlie's Dining Services", vehicleCount: 30 },
        // The fuzzer may present (and revoke) the victim's tokens; the probe's grant is in another organization.
        { id: '2002', name: 'Victim Freight', vehicleCount: 3 },
      ],
    });
  });
  after(() => emulator.stop());

  // Outside mocha, an unhandled rejection kills the process (Node's default); mocha only re-emits
  // it, so this listener is what sees one.
  const crashes: unknown[] = [];
  const crashed = (err: unknown) => void crashes.push(err);
  before(() => process.on('unhandledRejection', crashed));
  after(() => process.off('unhandledRejection', crashed));

  it('survives malformed request lines, methods, headers and bodies, and still serves GET /me', async () => {
    const probe = emulator.issueGrant('1001');
    let victim = emulator.issueGrant('2002');
    let rawRequests = 0;
    let probes = 0;
    let handled = 0;
    const ends: Record<RawAnswer['end'], number> = { answered: 0, closed: 0, timeout: 0 };
    const statuses = new Map<number, number>();

    await fc.assert(
      fc.asyncProperty(rawRequest, async (request) => {
        crashes.length = 0;
        if (emulator.activeGrants('2002') === 0) victim = emulator.issueGrant('2002');
        const { bytes, halfClose } = render(request, emulator, victim);
        rawRequests++;
        const answer = await exchange(emulator.baseURL, bytes, halfClose, request.method === 'HEAD');
        ends[answer.end]++;
        expect(crashes.map(String), 'a request made the emulator throw outside any handler').to.deep.equal([]);
        expect(answer.end, 'no answer and no hang-up: the request was lost').to.not.equal('timeout');
        expect(answer.garbage, 'not an HTTP/1.1 answer').to.equal(undefined);
        if (answer.statuses.length === 0) {
          // Node's server hangs up on CONNECT without a listener, and on a client that half-closed mid-request.
          expect(request.method === 'CONNECT' || halfClose, 'hung up without an answer').to.equal(true);
        }
        answer.statuses.forEach((status, i) => {
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          // Node's own answers (100 Continue; 400, 417 and 431 refusals) have no Content-Type; the emulator's
          // have one, or a Location.
          if (/\r\n(content-type|location):/i.test(answer.heads[i])) handled++;
          expect(status, `the emulator failed: ${answer.bodies[i]}`).to.be.below(500);
        });

        probes++;
        const me = await fetch(`${emulator.baseURL}/me`, { headers: { authorization: `Bearer ${probe.accessToken}` } });
        expect(me.status).to.equal(200);
        expect(((await me.json()) as { data: { id: string } }).data.id).to.equal('1001');
      }),
      { seed: SEED, numRuns: RUNS, plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)] },
    );

    const byStatus = [...statuses.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, n]) => `${status}×${n}`)
      .join(' ');
    const answers = [...statuses.values()].reduce((sum, n) => sum + n, 0);
    console.log(
      `      fuzz (seed ${SEED}): ${rawRequests} raw requests + ${probes} GET /me probes = ${rawRequests + probes} requests; ` +
        `${answers} answers (${handled} from the emulator, ${answers - handled} from Node's parser), ${ends.closed} hang-ups; statuses ${byStatus}`,
    );
    expect(rawRequests).to.be.at.least(50);
  });
});
