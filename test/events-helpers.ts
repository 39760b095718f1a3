/**
 * Test clients for the events room: a WebSocket client whose messages are awaited one by
 * one, a server-sent-events reader over fetch, and a child `carte serve` process. Every
 * connection goes through these functions, so adding credentials later is a one-line change.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket, type ClientOptions } from 'ws';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** A queue of things that arrive, awaited in order. */
class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiting: ((item: T) => void)[] = [];
  private failure: Error | null = null;
  private readonly failed: ((e: Error) => void)[] = [];

  push(item: T): void {
    const next = this.waiting.shift();
    this.failed.shift();
    if (next) next(item);
    else this.items.push(item);
  }

  fail(error: Error): void {
    this.failure = error;
    for (const f of this.failed.splice(0)) f(error);
    this.waiting.splice(0);
  }

  next(): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.waiting.push(resolve);
      this.failed.push(reject);
    });
  }

  get pending(): number {
    return this.items.length;
  }
}

export interface WsClient {
  readonly socket: WebSocket;
  send(message: unknown): void;
  /** The next message, parsed. */
  next(): Promise<Record<string, unknown>>;
  /** Messages until one matches; the others are returned too. */
  until(predicate: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>[]>;
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

/** Opens a WebSocket on a test server (`http://…` base URL). */
export async function connectWs(baseUrl: string, path = '/v1/ws', options: ClientOptions = {}): Promise<WsClient> {
  const socket = new WebSocket(baseUrl.replace(/^http/, 'ws') + path, options);
  const inbox = new Inbox<Record<string, unknown>>();
  socket.on('message', (data) => inbox.push(JSON.parse(String(data)) as Record<string, unknown>));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => {
      inbox.fail(new Error(`socket closed (${code})`));
      resolve({ code, reason: reason.toString() });
    });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  return {
    socket,
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    next: () => inbox.next(),
    async until(predicate) {
      const seen: Record<string, unknown>[] = [];
      for (;;) {
        const m = await inbox.next();
        seen.push(m);
        if (predicate(m)) return seen;
      }
    },
    closed,
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      socket.close();
      await closed;
    },
  };
}

export interface SseEvent {
  readonly id?: string;
  readonly event?: string;
  readonly data?: string;
  /** Comment lines (`: heartbeat`) come as their own entries. */
  readonly comment?: string;
}

export interface SseClient {
  readonly response: Response;
  next(): Promise<SseEvent>;
  /** Skips comments. */
  nextEvent(): Promise<SseEvent>;
  close(): void;
}

/** Reads a `text/event-stream` response block by block (WHATWG HTML §9.2.6, the parts Carte uses). */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const inbox = new Inbox<SseEvent>();
  if (response.body) {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event: Record<string, string> = {};
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) inbox.push({ comment: line.slice(1).trim() });
              else {
                const i = line.indexOf(':');
                const field = i === -1 ? line : line.slice(0, i);
                const value = i === -1 ? '' : line.slice(i + 1).replace(/^ /, '');
                event[field] = event[field] === undefined ? value : `${event[field]}\n${value}`;
              }
            }
            if (Object.keys(event).length > 0) inbox.push(event);
          }
        }
        inbox.fail(new Error('stream ended'));
      } catch (e) {
        inbox.fail(e as Error);
      }
    })();
  }
  return {
    response,
    next: () => inbox.next(),
    async nextEvent() {
      for (;;) {
        const e = await inbox.next();
        if (e.comment === undefined) return e;
      }
    },
    close: () => controller.abort(),
  };
}

export interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  readonly url: string;
  /** The development bearer token (with `--dev`), else null. */
  readonly token: string | null;
  /** Resolves when a JSON log line matching the predicate has been printed (from now on or before). */
  logged(predicate: (line: Record<string, unknown>) => boolean, count?: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

/** Runs `carte serve …` in a child process and waits for its start line. */
export async function spawnServe(args: readonly string[]): Promise<Child> {
  const child = spawn('node', ['bin/carte.js', 'serve', ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const watchers: { predicate: (l: Record<string, unknown>) => boolean; count: number; resolve: () => void }[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  /** The development token of `--dev`, from the start line. */
  let token: string | null = null;
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const check = () => {
    for (const w of [...watchers]) {
      if (lines.filter(w.predicate).length >= w.count) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let started = false;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) !== -1) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const m = / API (http:\/\/[^ ]+)\/v1 /.exec(line);
        if (m && !started) {
          started = true;
          token = / token (\S+)$/.exec(line)?.[1] ?? null;
          resolve(m[1] as string);
        } else if (line.startsWith('{')) {
          lines.push(JSON.parse(line) as Record<string, unknown>);
          check();
        }
      }
    });
    void exited.then((code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  return {
    process: child,
    url,
    token,
    exited,
    logged: (predicate, count = 1) =>
      new Promise<void>((resolve) => {
        watchers.push({ predicate, count, resolve });
        check();
      }),
  };
}

/**
 * For conditions nothing can be awaited on (a count inside the server): checks every few
 * milliseconds, and fails after `limitMs` rather than hanging.
 */
export async function waitUntil(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
