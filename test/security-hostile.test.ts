/**
 * Hostile cases (SPEC §8, issue 9 item 8) through a real listening server and the service:
 * BOLA — another principal's row is 404 on get, update, replace, delete, nested routes,
 * lists, counts, search, global search and embedding — tokens after revocation, expired,
 * signed by another key, `alg: none`, HMAC with the public key, scope escalation through
 * bulk PUT, owner fields forged in bodies, and brute force on `/oauth/token`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { base64url, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { Auth } from '../src/auth/auth.js';
import { CarteError } from '../src/errors.js';
import type { ApiSpec } from '../src/schema/types.js';
import type { CallContext } from '../src/service/types.js';
import { startServer, type Response, type TestServer } from './helpers.js';
import { ownerResources, seedOwnerRows } from './owner-fixture.js';

const schema: ApiSpec = {
  api: { name: 'Notebook' },
  resources: {
    ...ownerResources(),
    posts: { access: { read: 'public', write: 'owner:authorId' }, fields: { authorId: { type: 'string' }, title: { type: 'string' } } },
    memos: { access: { read: 'authenticated', create: 'scope:memos:admin', update: 'authenticated', delete: 'none' }, fields: { text: { type: 'string' } } },
  },
};

let t: TestServer;
let alice: string;
let bob: string;
let board: number;
let aliceNote: number;
let bobNote: number;

const as = (token: string, method: string, path: string, body?: unknown): Promise<Response> => t.request(method, path, { token, ...(body === undefined ? {} : { body }) });

before(async () => {
  // The invalid-token cases below are failures from one address: give them room (brute force has its own servers).
  t = await startServer({ schema, config: { rateLimits: { authFailures: 1000 } } });
  ({ alice, bob, board, aliceNote, bobNote } = await seedOwnerRows(t, 'alice zanzibar recipe', 'nice'));
});
after(() => t.close());

function notFound(res: Response, id: number | string): void {
  assert.equal(res.status, 404, res.text);
  assert.deepEqual(res.body, { error: 'not_found', error_description: `The note with the id '${id}' doesn't exist`, error_uri: `${t.url}/docs/errors#not_found` });
}

describe('BOLA: another principal’s row does not exist for you', () => {
  test('get, patch, put, delete: 404, exactly as for an id that was never used', async () => {
    notFound(await as(bob, 'GET', `/v1/notes/${aliceNote}`), aliceNote);
    notFound(await as(bob, 'GET', '/v1/notes/999999'), 999999);
    notFound(await as(bob, 'PATCH', `/v1/notes/${aliceNote}`, { title: 'pwned' }), aliceNote);
    notFound(await as(bob, 'PUT', `/v1/notes/${aliceNote}`, { title: 'pwned' }), aliceNote);
    notFound(await as(bob, 'DELETE', `/v1/notes/${aliceNote}`), aliceNote);
    const still = await as(alice, 'GET', `/v1/notes/${aliceNote}`);
    assert.equal(still.status, 200);
    assert.equal((still.body as { title: string }).title, 'alice zanzibar recipe');
  });

  test('lists and counts hold only your rows', async () => {
    const list = await as(bob, 'GET', '/v1/notes');
    assert.equal(list.status, 200);
    assert.equal(list.headers.get('content-range'), '0-0/1');
    assert.deepEqual((list.body as { id: number }[]).map((n) => n.id), [bobNote]);
    const filtered = await as(bob, 'GET', '/v1/notes?ownerId=alice');
    assert.equal(filtered.headers.get('content-range'), '*/0');
    assert.deepEqual(filtered.body, []);
    const estimated = await t.request('GET', '/v1/notes', { token: bob, headers: { prefer: 'count=estimated' } });
    assert.equal(estimated.headers.get('content-range'), '0-0/1');
  });

  test('nested routes: another’s parent is 404; a public parent lists only your children', async () => {
    const nested = await as(bob, 'GET', `/v1/notes/${aliceNote}/comments`);
    assert.equal(nested.status, 404);
    assert.equal((nested.body as { error_description: string }).error_description, `The note with the id '${aliceNote}' doesn't exist`);
    const create = await as(bob, 'POST', `/v1/notes/${aliceNote}/comments`, { text: 'spam' });
    assert.equal(create.status, 404);
    const children = await as(bob, 'GET', `/v1/boards/${board}/notes`);
    assert.equal(children.headers.get('content-range'), '0-0/1');
    assert.deepEqual((children.body as { id: number }[]).map((n) => n.id), [bobNote]);
  });

  test('search, its suggestions and global search never show another’s row', async () => {
    const own = await as(alice, 'GET', '/v1/notes/search?title=*zanzibar*');
    assert.equal((own.body as { count: number }).count, 1);
    const res = await as(bob, 'GET', '/v1/notes/search?title=*zanzib*');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { count: 0, range: null, query: 'title=*zanzib*', suggestions: [], results: [] });
    assert.equal(res.headers.get('content-range'), '*/0');
    const global = await as(bob, 'GET', '/v1/search?q=zanzibar');
    assert.deepEqual(global.body, []);
    assert.equal(global.headers.get('content-range'), '*/0');
    const mine = await as(alice, 'GET', '/v1/search?q=zanzibar');
    assert.deepEqual((mine.body as { resource: string; id: number }[]).map((h) => [h.resource, h.id]), [['notes', aliceNote]]);
  });

  test('embedding filters to-many and to-one relations by the same rule', async () => {
    const boardView = await as(bob, 'GET', `/v1/boards/${board}?fields=name,notes(title)`);
    assert.deepEqual(boardView.body, { id: board, name: 'Kitchen', notes: [{ id: bobNote, title: 'bob grocery list' }] });
    const boards = await as(bob, 'GET', '/v1/boards?fields=name,notes(title)');
    assert.deepEqual((boards.body as { notes: unknown[] }[])[0]?.notes, [{ id: bobNote, title: 'bob grocery list' }]);
    const comment = ((await as(bob, 'GET', '/v1/comments')).body as { id: number; noteId: number }[])[0] as { id: number; noteId: number };
    const embedded = await as(bob, 'GET', `/v1/comments/${comment.id}?fields=text,note(title)`);
    assert.deepEqual(embedded.body, { id: comment.id, text: 'nice', note: null });
    const anonymous = await t.request('GET', `/v1/comments/${comment.id}?fields=text,note(title)`, { anonymous: true });
    assert.deepEqual(anonymous.body, { id: comment.id, text: 'nice', note: null }, 'no credentials: the owner-only relation embeds as nothing');
    const owner = await as(alice, 'GET', `/v1/comments/${comment.id}?fields=text,note(title)`);
    assert.deepEqual(owner.body, { id: comment.id, text: 'nice', note: { id: aliceNote, title: 'alice zanzibar recipe' } });
  });

  test('a reference to another’s row is refused as if it did not exist', async () => {
    const res = await as(bob, 'POST', '/v1/comments', { noteId: aliceNote, text: 'hi' });
    assert.equal(res.status, 400);
    assert.deepEqual((res.body as { errors: unknown[] }).errors, [{ field: 'noteId', error: 'reference', error_description: `There is no note with the id '${aliceNote}'` }]);
  });

  test('a filtered DELETE removes only your rows', async () => {
    const extra = ((await as(bob, 'POST', '/v1/notes', { title: 'bob temp' })).body as { id: number }).id;
    const res = await as(bob, 'DELETE', `/v1/notes?id[gte]=1&title[like]=*temp*`);
    assert.equal(res.status, 204);
    notFound(await as(bob, 'GET', `/v1/notes/${extra}`), extra);
    const aliceTemp = ((await as(alice, 'POST', '/v1/notes', { title: 'alice temp' })).body as { id: number }).id;
    assert.equal((await as(bob, 'DELETE', '/v1/notes?id[gte]=1&title[like]=*temp*')).status, 204);
    assert.equal((await as(alice, 'GET', `/v1/notes/${aliceTemp}`)).status, 200);
  });

  test('the service itself: every front end gets the same answers', async () => {
    const svc = t.server.service;
    const ctx = (subject: string): CallContext => ({ principal: { subject, scopes: [], kind: 'token' }, baseUrl: t.url });
    // A read may answer at once (SQLite), but never throws: a row you cannot see is a rejected promise.
    const hidden = svc.get(ctx('bob'), 'notes', aliceNote);
    assert.ok(hidden instanceof Promise);
    await assert.rejects(hidden, (e: unknown) => e instanceof CarteError && e.code === 'not_found');
    const missing = svc.get(ctx('bob'), 'notes', 987654);
    assert.ok(missing instanceof Promise);
    await assert.rejects(missing, (e: unknown) => e instanceof CarteError && e.code === 'not_found');
    await assert.rejects(svc.update(ctx('bob'), 'notes', aliceNote, { title: 'x' }), (e: unknown) => e instanceof CarteError && e.code === 'not_found');
    await assert.rejects(svc.delete(ctx('bob'), 'notes', aliceNote), (e: unknown) => e instanceof CarteError && e.code === 'not_found');
    await assert.rejects(svc.list(ctx('bob'), 'comments', {}, { resource: 'notes', id: aliceNote, relation: 'comments' }), (e: unknown) => e instanceof CarteError && e.code === 'not_found');
    const list = await svc.list(ctx('bob'), 'notes', {});
    assert.deepEqual(list.items.map((i) => i.id), [bobNote]);
    assert.equal(list.total, 1);
    const search = await svc.searchAll(ctx('bob'), 'zanzibar', {});
    assert.equal(search.total, 0);
    const anonymous = { principal: { subject: null, scopes: [], kind: 'anonymous' as const }, baseUrl: t.url };
    await assert.rejects(svc.list(anonymous, 'notes', {}), (e: unknown) => e instanceof CarteError && e.code === 'no_credentials');
    // What event fan-out, webhooks and links ask: may this principal see (or change) this row?
    const row = { id: aliceNote, ownerId: 'alice', title: 'x', boardId: board };
    assert.equal(svc.can(ctx('alice'), 'notes', 'read', row), true);
    assert.equal(svc.can(ctx('bob'), 'notes', 'read', row), false);
    assert.equal(svc.can(anonymous, 'notes', 'read', row), false);
    assert.equal(svc.can(ctx('bob'), 'notes', 'update', row), false);
    assert.equal(svc.can(ctx('alice'), 'notes', 'delete', row), true);
    assert.equal(svc.can(anonymous, 'comments', 'read', { id: 1, noteId: aliceNote, text: 'x' }), true);
    assert.equal(svc.can(ctx('bob'), 'posts', 'update', { id: 1, authorId: 'alice', title: 'x' }), false);
    assert.equal(svc.can(ctx('bob'), 'memos', 'create'), false);
  });
});

describe('forged owners and escalation', () => {
  test('an owner field naming someone else is refused on create, patch and put', async () => {
    const before = (await as(alice, 'GET', '/v1/notes')).headers.get('content-range');
    const created = await as(bob, 'POST', '/v1/notes', { title: 'forged', ownerId: 'alice' });
    assert.equal(created.status, 403);
    assert.deepEqual(created.body, {
      error: 'not_allowed',
      error_description: 'You can only write notes whose ownerId is you',
      error_uri: `${t.url}/docs/errors#not_allowed`,
      errors: [{ field: 'ownerId', error: 'owner', error_description: "'ownerId' must be your own subject" }],
    });
    assert.equal((await as(bob, 'PATCH', `/v1/notes/${bobNote}`, { ownerId: 'alice' })).status, 403);
    assert.equal((await as(bob, 'PUT', `/v1/notes/${bobNote}`, { title: 'mine', ownerId: 'alice' })).status, 403);
    assert.equal((await as(bob, 'PUT', '/v1/notes', [{ id: bobNote, title: 'mine', ownerId: 'alice' }])).status, 403);
    const own = await as(alice, 'GET', '/v1/notes');
    assert.equal(own.headers.get('content-range'), before, 'nothing was written in alice’s name');
    assert.equal(((await as(bob, 'GET', `/v1/notes/${bobNote}`)).body as { ownerId: string }).ownerId, 'bob');
  });

  test('an item you may read but do not own: 403 on change (its existence is no secret)', async () => {
    const post = ((await as(alice, 'POST', '/v1/posts', { title: 'hello' })).body as { id: number }).id;
    assert.equal((await as(bob, 'GET', `/v1/posts/${post}`)).status, 200);
    const patch = await as(bob, 'PATCH', `/v1/posts/${post}`, { title: 'defaced' });
    assert.equal(patch.status, 403);
    assert.deepEqual(patch.body, { error: 'not_allowed', error_description: 'You can only change posts whose authorId is you', error_uri: `${t.url}/docs/errors#not_allowed` });
    assert.equal((await as(bob, 'DELETE', `/v1/posts/${post}`)).status, 403);
    assert.equal(((await as(alice, 'GET', `/v1/posts/${post}`)).body as { title: string }).title, 'hello');
  });

  test('bulk PUT checks the create rule for new ids, all or nothing: no scope escalation', async () => {
    const admin = await t.mintToken('root', ['memos:admin']);
    const memo = ((await as(admin, 'POST', '/v1/memos', { text: 'original' })).body as { id: number }).id;
    assert.equal((await as(bob, 'PATCH', `/v1/memos/${memo}`, { text: 'updated' })).status, 200, 'update needs only a token');
    const res = await as(bob, 'PUT', '/v1/memos', [{ id: memo, text: 'bulk' }, { id: memo + 1000, text: 'smuggled' }]);
    assert.equal(res.status, 403);
    assert.equal((res.body as { error: string }).error, 'insufficient_scope');
    assert.equal((res.body as { scope: string }).scope, 'memos:admin');
    assert.equal(((await as(bob, 'GET', `/v1/memos/${memo}`)).body as { text: string }).text, 'updated', 'nothing of the batch was written');
    assert.equal((await as(bob, 'GET', `/v1/memos/${memo + 1000}`)).status, 404);
    const single = await as(bob, 'PUT', `/v1/memos/${memo + 1000}`, { text: 'smuggled' });
    assert.equal(single.status, 403, 'PUT-creates on an item needs the create rule too');
    const foreign = await as(bob, 'PUT', '/v1/notes', [{ id: bobNote, title: 'mine' }, { id: aliceNote, title: 'pwned' }]);
    assert.equal(foreign.status, 404);
    assert.equal(((await as(bob, 'GET', `/v1/notes/${bobNote}`)).body as { title: string }).title, 'bob grocery list', 'all or nothing');
    assert.equal((await as(bob, 'DELETE', `/v1/memos/${memo}`)).status, 403);
  });
});

describe('tokens that must not work', () => {
  const write = (token: string) => as(token, 'POST', '/v1/boards', { name: 'x' });

  function invalid(res: Response, description: string): void {
    assert.equal(res.status, 401, res.text);
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="carte", error="invalid_token", error_description="${description}"`);
    assert.deepEqual(res.body, { error: 'invalid_token', error_description: description, error_uri: `${t.url}/docs/errors#invalid_token` });
  }

  test('a revoked token stops working at once', async () => {
    const token = await t.mintToken('carol', ['boards:write']);
    assert.equal((await write(token)).status, 201);
    const jti = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).jti as string;
    assert.equal(await t.server.store.auth.revokeToken(jti, new Date().toISOString()), true);
    invalid(await write(token), 'The access token was revoked');
    invalid(await t.request('GET', '/v1/boards', { token }), 'The access token was revoked');
  });

  test('an expired token', async () => {
    const token = await t.mintToken('carol', ['boards:write'], { issuedAt: Math.floor(Date.now() / 1000) - 7200, ttl: 3600 });
    invalid(await write(token), 'The access token expired');
  });

  test('a token that expires while in use is refused from then on (its checked signature is not enough)', async () => {
    let now = Date.now();
    const auth = new Auth(t.server.store.auth, t.server.config, t.server.model, { now: () => now });
    const { token } = await auth.issueToken({ clientId: 'test-client', subject: 'carol', scopes: [] }, auth.context(t.url));
    assert.equal((await auth.authenticator.bearer(token)).subject, 'carol');
    now += 1000;
    assert.equal((await auth.authenticator.bearer(token)).subject, 'carol', 'still valid');
    now += 3600 * 1000 + 10_000; // past exp and the 5 s of tolerated clock skew
    await assert.rejects(auth.authenticator.bearer(token), (e: unknown) => e instanceof CarteError && e.message === 'The access token expired');
  });

  test('a token signed by another key, even under this server’s kid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const kid = decodeProtectedHeader(t.token).kid as string;
    const claims = { client_id: 'test-client', scope: '*' };
    const forge = (k: string) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: k })
        .setIssuer(t.url)
        .setSubject('mallory')
        .setAudience(`${t.url}/v1`)
        .setIssuedAt()
        .setExpirationTime('1h')
        .setJti('0123456789abcdef0123456789abcdef')
        .sign(privateKey);
    invalid(await write(await forge(kid)), 'The access token signature is not valid');
    invalid(await write(await forge('someone-elses-key')), 'The access token is not signed by a key of this server');
  });

  test('alg: none, and HS256 keyed with the public key (algorithm confusion)', async () => {
    const header = decodeProtectedHeader(t.token);
    const none = new UnsecuredJWT({ client_id: 'test-client', scope: '*' }).setIssuer(t.url).setSubject('mallory').setAudience(`${t.url}/v1`).setIssuedAt().setExpirationTime('1h').encode();
    invalid(await write(none), "The access token is signed with 'none'; only ES256 tokens of this server are accepted");
    // The same, with typ and kid borrowed from a real token.
    const forgedHeader = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: header.kid }));
    invalid(await write(`${forgedHeader}.${none.split('.')[1]}.`), "The access token is signed with 'none'; only ES256 tokens of this server are accepted");
    const jwks = (await t.get('/oauth/jwks.json')).body as { keys: Record<string, string>[] };
    const publicJwk = jwks.keys.find((k) => k.kid === header.kid) as Record<string, string>;
    const hmacKey = new TextEncoder().encode(JSON.stringify(publicJwk));
    const hs = await new SignJWT({ client_id: 'test-client', scope: '*' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid as string })
      .setSubject('mallory')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(hmacKey);
    invalid(await write(hs), "The access token is signed with 'HS256'; only ES256 tokens of this server are accepted");
  });

  test('a JWT of this server’s key that is not an access token, or has no row', async () => {
    const { kid, key } = await t.server.auth.keys.current();
    const sign = (typ: string, jti: string) =>
      new SignJWT({ client_id: 'test-client', scope: '*' })
        .setProtectedHeader({ alg: 'ES256', typ, kid })
        .setIssuer(t.url)
        .setSubject('mallory')
        .setAudience(`${t.url}/v1`)
        .setIssuedAt()
        .setExpirationTime('1h')
        .setJti(jti)
        .sign(key);
    invalid(await write(await sign('JWT', 'ffffffffffffffffffffffffffffffff')), "The token is not an access token (typ must be 'at+jwt')");
    invalid(await write(await sign('at+jwt', 'ffffffffffffffffffffffffffffffff')), 'The access token is unknown to this server');
    const public_ = await exportJWK((await generateKeyPair('ES256')).publicKey);
    assert.equal(public_.kty, 'EC');
  });

  test('API keys: revoked and expired keys stop at once; a guessed secret fails', async () => {
    const { key, record } = await t.server.auth.apiKeys.create({ name: 'script', scopes: ['boards:write'] });
    assert.equal((await write(key)).status, 201);
    invalid(await write(`${key.slice(0, -4)}AAAA`), 'The API key is not valid');
    assert.equal(await t.server.auth.apiKeys.revoke(record.id), true);
    invalid(await write(key), 'The API key was revoked');
    const expired = await t.server.auth.apiKeys.create({ name: 'old', scopes: ['boards:write'], expiresAt: new Date(Date.now() - 1000).toISOString() });
    invalid(await write(expired.key), 'The API key expired');
  });
});

describe('brute force', () => {
  test('failed client authentications on /oauth/token are rate limited per address, even for the right secret', async () => {
    // A server of its own: the failure budget is per address, and this test spends it.
    const s = await startServer({ schema, config: { rateLimits: { authFailures: 5, window: 600 } } });
    try {
      const client = await s.server.auth.clients.create({ name: 'target', scopes: [] });
      const attempt = (secret: string) =>
        s.request('POST', '/oauth/token', {
          anonymous: true,
          raw: `grant_type=client_credentials&client_id=${client.clientId}&client_secret=${encodeURIComponent(secret)}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
      for (let i = 0; i < 5; i++) assert.equal((await attempt(`cs_guess${i}`)).status, 401, `guess ${i}`);
      const blocked = await attempt(client.clientSecret);
      assert.equal(blocked.status, 429);
      assert.equal((blocked.body as { error: string }).error, 'too_many_requests');
      const retry = Number(blocked.headers.get('retry-after'));
      assert.ok(retry >= 1 && retry <= 600, `Retry-After ${retry}`);
      assert.equal(blocked.headers.get('ratelimit-policy'), '"auth-failures";q=5;w=600');
      assert.equal(blocked.headers.get('ratelimit'), `"auth-failures";r=0;t=${retry}`);
      // Guessing bearer tokens from that address is stopped the same way; requests without credentials are not.
      assert.equal((await s.request('GET', '/v1/boards', { token: 'ck_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAA' })).status, 429);
      assert.equal((await s.request('GET', '/v1/boards', { anonymous: true })).status, 200);
    } finally {
      await s.close();
    }
  });

  test('guessing bearer tokens counts as failures too', async () => {
    const s = await startServer({ schema, config: { rateLimits: { authFailures: 3, window: 600 } } });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await s.request('GET', '/v1/boards', { token: `ck_0123456789abcdef_guessguessguessguess${i}` })).status, 401);
      const blocked = await s.request('GET', '/v1/boards', { token: s.token });
      assert.equal(blocked.status, 429, 'even a valid token is not checked from an address that keeps guessing');
    } finally {
      await s.close();
    }
  });
});
