/** A webhook receiver for tests: a real HTTP server on 127.0.0.1 that records what it is sent. */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

export type ReceiverHandler = (request: IncomingMessage, body: string, response: ServerResponse) => void;

export interface Receiver {
  readonly url: string;
  readonly port: number;
  readonly received: Received[];
  /** Requests being answered right now, and the most at once. */
  readonly open: { now: number; max: number };
  /** Answers with this from now on (default: 200 `ok`). */
  handle(handler: ReceiverHandler): void;
  /** Resolves once `count` requests have arrived (their handler has been called). */
  waitFor(count: number, limitMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

const ok: ReceiverHandler = (_request, _body, response) => {
  response.writeHead(200, { 'content-type': 'text/plain' });
  response.end('ok');
};

export async function startReceiver(port = 0, handler: ReceiverHandler = ok): Promise<Receiver> {
  let current = handler;
  const received: Received[] = [];
  const open = { now: 0, max: 0 };
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = http.createServer((request, response) => {
    open.now++;
    open.max = Math.max(open.max, open.now);
    response.once('close', () => open.now--);
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: request.headers, body, at: Date.now() });
      current(request, body, response);
      for (const w of [...waiters]) {
        if (received.length >= w.count) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}/hook`,
    port: actual,
    received,
    open,
    handle(next) {
      current = next;
    },
    waitFor(count, limitMs = 30_000) {
      if (received.length >= count) return Promise.resolve(received.slice());
      return new Promise<Received[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the receiver got ${received.length} requests, expected ${count}, within ${limitMs} ms`)), limitMs);
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(received.slice());
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The Standard Webhooks headers of a received request, as `standardwebhooks` wants them. */
export function webhookHeaders(r: Received): Record<string, string> {
  return {
    'webhook-id': String(r.headers['webhook-id']),
    'webhook-timestamp': String(r.headers['webhook-timestamp']),
    'webhook-signature': String(r.headers['webhook-signature']),
  };
}
