/**
 * One HTTP attempt of a webhook delivery (SPEC §7): a POST of the signed body over
 * node:http(s), to an address checked at connect time, cut off at the timeout, never
 * following a redirect (a 3xx is a failed attempt), keeping only the start of the answer.
 */
import http from 'node:http';
import https from 'node:https';
import { AddressRefusedError, checkedAddresses, guardedLookup } from './address-guard.js';

export interface AttemptResult {
  /** The receiver's status, or null when none came back. */
  readonly status: number | null;
  readonly latencyMs: number;
  readonly error: string | null;
  /** The first `maxBody` bytes of the answer, as text. */
  readonly response: string | null;
  readonly delivered: boolean;
}

export interface PostOptions {
  readonly timeout: number;
  readonly maxBody: number;
  readonly allowPrivate: boolean;
  /** Keep-alive connections, one pool per dispatcher. */
  readonly agents: ReceiverAgents;
}

export interface ReceiverAgents {
  readonly http: http.Agent;
  readonly https: https.Agent;
}

export function receiverAgents(): ReceiverAgents {
  return { http: new http.Agent({ keepAlive: true, maxSockets: 1024 }), https: new https.Agent({ keepAlive: true, maxSockets: 1024 }) };
}

export async function postWebhook(url: string, headers: Record<string, string>, body: string, options: PostOptions): Promise<AttemptResult> {
  const started = performance.now();
  const done = (status: number | null, error: string | null, response: string | null): AttemptResult => ({
    status,
    latencyMs: Math.round(performance.now() - started),
    error,
    response,
    delivered: status !== null && status >= 200 && status < 300,
  });
  let target: URL;
  try {
    target = new URL(url);
    // An IP literal never goes through `lookup`: it is checked here.
    if (/^\[.*\]$|^\d+\.\d+\.\d+\.\d+$/.test(target.hostname)) await checkedAddresses(target.hostname, options.allowPrivate);
  } catch (e) {
    return done(null, e instanceof AddressRefusedError ? e.message : `invalid URL: ${(e as Error).message}`, null);
  }
  const secure = target.protocol === 'https:';
  const payload = Buffer.from(body);
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const finish = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const request = (secure ? https : http).request(
      target,
      {
        method: 'POST',
        agent: secure ? options.agents.https : options.agents.http,
        lookup: guardedLookup(options.allowPrivate),
        headers: { ...headers, 'content-type': 'application/json', 'content-length': payload.length, 'user-agent': 'Carte-Webhooks/1' },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let kept = 0;
        response.on('data', (chunk: Buffer) => {
          if (kept < options.maxBody) {
            chunks.push(chunk.subarray(0, options.maxBody - kept));
            kept += Math.min(chunk.length, options.maxBody - kept);
          } else {
            // Enough for the log: the rest is not read (the connection is dropped).
            response.destroy();
            finish(done(status, null, Buffer.concat(chunks).toString('utf8')));
          }
        });
        response.on('end', () => finish(done(status, null, Buffer.concat(chunks).toString('utf8'))));
        response.on('error', (err) => finish(done(status, err.message, Buffer.concat(chunks).toString('utf8'))));
        response.on('close', () => finish(done(status, null, Buffer.concat(chunks).toString('utf8'))));
      },
    );
    const timer = setTimeout(() => {
      request.destroy(new Error(`no answer within ${options.timeout} ms`));
    }, options.timeout);
    request.on('error', (err: Error & { code?: string }) => finish(done(null, err.message || err.code || 'connection failed', null)));
    request.end(payload);
  });
}

