/**
 * The OAuth2 authorization server (SPEC §8) through a real listening server: RFC 8414
 * metadata, JWKS, client_credentials and refresh_token with rotation, RFC 9068 tokens,
 * introspection (RFC 7662), revocation (RFC 7009), tokeninfo, RFC 6749 §5.2 errors — driven
 * by an independent OAuth client library (oauth4webapi) as well as by raw requests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as oauth from 'oauth4webapi';
import { AccessTokens } from '../src/auth/access-tokens.js';
import { startServer, type Response, type TestServer } from './helpers.js';

let t: TestServer;
before(async () => {
  t = await startServer();
});
after(() => t.close());

interface Client {
  id: string;
  secret: string;
}

async function newClient(scopes: string[], subject?: string): Promise<Client> {
  const created = await t.server.auth.clients.create({ name: 'test', scopes, ...(subject ? { subject } : {}) });
  return { id: created.clientId, secret: created.clientSecret };
}

function basic(client: Client): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
}

/** A form POST to an OAuth endpoint, without the test's bearer token. */
function form(path: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return t.request('POST', path, { anonymous: true, raw: new URLSearchParams(params).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
}

async function tokenFor(client: Client, params: Record<string, string> = {}): Promise<{ access_token: string; refresh_token: string; scope: string; expires_in: number }> {
  const res = await form('/oauth/token', { grant_type: 'client_credentials', ...params }, { authorization: basic(client) });
  assert.equal(res.status, 200, res.text);
  return res.body as { access_token: string; refresh_token: string; scope: string; expires_in: number };
}

/** A write the demo allows only with `restaurants:write`. */
function createRestaurant(token: string): Promise<Response> {
  return t.request('POST', '/v1/restaurants', { token, body: { name: 'OAuth Bistro', type: 'french' } });
}

const options = { [oauth.allowInsecureRequests]: true }; // the test server speaks plain HTTP on loopback

describe('discovery and keys', () => {
  test('RFC 8414 metadata at /.well-known/oauth-authorization-server', async () => {
    const res = await t.get('/.well-known/oauth-authorization-server');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(res.body, {
      issuer: t.url,
      token_endpoint: `${t.url}/oauth/token`,
      jwks_uri: `${t.url}/oauth/jwks.json`,
      scopes_supported: ['clients:write', 'dishes:write', 'orders:write', 'restaurants:write'],
      response_types_supported: [],
      grant_types_supported: ['client_credentials', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      service_documentation: `${t.url}/docs`,
      revocation_endpoint: `${t.url}/oauth/revoke`,
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      introspection_endpoint: `${t.url}/oauth/introspect`,
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      tokeninfo_endpoint: `${t.url}/oauth/tokeninfo`,
    });
  });

  test('the JWKS serves public EC keys only, and every token names one of them', async () => {
    const res = await t.get('/oauth/jwks.json');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/jwk-set+json; charset=utf-8');
    const { keys } = res.body as { keys: Record<string, string>[] };
    assert.ok(keys.length >= 1);
    for (const key of keys) {
      assert.deepEqual(Object.keys(key).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      assert.equal(key.kty, 'EC');
      assert.equal(key.crv, 'P-256');
      assert.equal(key.alg, 'ES256');
      assert.equal(key.use, 'sig');
    }
    const header = decodeProtectedHeader(t.token);
    assert.ok(keys.some((k) => k.kid === header.kid));
  });
});

describe('an independent client (oauth4webapi)', () => {
  test('discovery, client_credentials, RFC 9068 validation, refresh with rotation, introspection, revocation', async () => {
    const client = await newClient(['restaurants:write', 'orders:read'], 'robot-7');
    const issuer = new URL(t.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...options }));
    assert.equal(as.issuer, t.url);
    const c: oauth.Client = { client_id: client.id };
    const auth = oauth.ClientSecretBasic(client.secret);

    const granted = await oauth.processClientCredentialsResponse(as, c, await oauth.clientCredentialsGrantRequest(as, c, auth, { scope: 'restaurants:write' }, options));
    assert.equal(granted.token_type, 'bearer');
    assert.equal(granted.expires_in, 3600);
    assert.equal(granted.scope, 'restaurants:write');
    assert.match(granted.refresh_token ?? '', /^rt_[0-9a-f]+_[A-Za-z0-9_-]+$/);

    // A resource server validating the token on its own, from the JWKS (RFC 9068).
    const request = new Request(`${t.url}/v1/restaurants`, { headers: { authorization: `Bearer ${granted.access_token}` } });
    const claims = await oauth.validateJwtAccessToken(as, request, `${t.url}/v1`, options);
    assert.equal(claims.sub, 'robot-7');
    assert.equal(claims.client_id, client.id);
    assert.equal(claims.scope, 'restaurants:write');
    assert.equal(claims.iss, t.url);

    assert.equal((await createRestaurant(granted.access_token)).status, 201);

    const introspected = await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, auth, granted.access_token, options));
    assert.equal(introspected.active, true);
    assert.equal(introspected.client_id, client.id);
    assert.equal(introspected.sub, 'robot-7');
    assert.equal(introspected.scope, 'restaurants:write');
    assert.equal(introspected.token_type, 'Bearer');

    // Refresh: a new pair; the used refresh token is spent.
    const refreshed = await oauth.processRefreshTokenResponse(as, c, await oauth.refreshTokenGrantRequest(as, c, auth, granted.refresh_token as string, options));
    assert.notEqual(refreshed.access_token, granted.access_token);
    assert.notEqual(refreshed.refresh_token, granted.refresh_token);
    assert.equal(refreshed.scope, 'restaurants:write');
    assert.equal((await createRestaurant(refreshed.access_token)).status, 201);

    // Revocation works at once.
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, c, auth, refreshed.access_token, options));
    const after = await createRestaurant(refreshed.access_token);
    assert.equal(after.status, 401);
    assert.equal((after.body as { error: string }).error, 'invalid_token');
    const gone = await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, auth, refreshed.access_token, options));
    assert.deepEqual(gone, { active: false });

    // Replaying the spent refresh token is refused and revokes its whole grant.
    await assert.rejects(
      oauth.processRefreshTokenResponse(as, c, await oauth.refreshTokenGrantRequest(as, c, auth, granted.refresh_token as string, options)),
      (e: unknown) => e instanceof oauth.ResponseBodyError && e.error === 'invalid_grant' && e.status === 400,
    );
    assert.equal((await createRestaurant(granted.access_token)).status, 401, 'the first access token of the grant is revoked too');
    await assert.rejects(
      oauth.processRefreshTokenResponse(as, c, await oauth.refreshTokenGrantRequest(as, c, auth, refreshed.refresh_token as string, options)),
      (e: unknown) => e instanceof oauth.ResponseBodyError && e.error === 'invalid_grant',
    );
  });

  test('client_secret_post authenticates too', async () => {
    const client = await newClient(['restaurants:write']);
    const issuer = new URL(t.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...options }));
    const c: oauth.Client = { client_id: client.id };
    const granted = await oauth.processClientCredentialsResponse(as, c, await oauth.clientCredentialsGrantRequest(as, c, oauth.ClientSecretPost(client.secret), {}, options));
    assert.equal(granted.scope, 'restaurants:write');
    await assert.rejects(
      oauth.processClientCredentialsResponse(as, c, await oauth.clientCredentialsGrantRequest(as, c, oauth.ClientSecretPost('cs_wrong'), {}, options)),
      // RFC 6749 §5.2: invalid_client comes with a WWW-Authenticate challenge, which the library reports as such.
      (e: unknown) => e instanceof oauth.WWWAuthenticateChallengeError && e.status === 401 && e.cause[0]?.scheme === 'basic',
    );
  });
});

describe('the token endpoint', () => {
  test('an RFC 9068 access token: typ at+jwt, ES256, iss, sub, aud, exp, iat, jti, client_id, scope; never cached', async () => {
    const client = await newClient(['restaurants:write', 'orders:write']);
    const res = await form('/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(client) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('pragma'), 'no-cache');
    const body = res.body as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 3600);
    assert.equal(body.scope, 'restaurants:write orders:write');
    const token = body.access_token as string;
    const header = decodeProtectedHeader(token);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'ES256');
    assert.equal(typeof header.kid, 'string');
    const claims = decodeJwt(token);
    assert.deepEqual(Object.keys(claims).sort(), ['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub']);
    assert.equal(claims.iss, t.url);
    assert.equal(claims.sub, client.id, 'without --subject, the subject is the client id');
    assert.equal(claims.aud, `${t.url}/v1`);
    assert.equal(claims.client_id, client.id);
    assert.equal((claims.exp as number) - (claims.iat as number), 3600);
    assert.match(claims.jti as string, /^[0-9a-f]{32}$/);
  });

  test('expires_in is the lifetime from issue, even when signing crosses a second boundary', async () => {
    // A clock that moves 0.7 s at every reading: read once more after signing, it would be in
    // the next second (1002) and expires_in would say 3599.
    let ms = 1_000_900;
    const clock = () => (ms += 700);
    const tokens = new AccessTokens(t.server.store.auth, t.server.auth.keys, 3600, clock);
    const context = { issuer: t.url, audience: `${t.url}/v1` };
    const signed = await tokens.sign({ clientId: 'c', subject: 's', scopes: [] }, context);
    const claims = decodeJwt(signed.token);
    assert.equal(claims.iat, 1001);
    assert.equal(claims.exp, 4601);
    assert.equal(signed.expiresIn, 3600);
    // A token minted with an earlier issue time has what is left of its lifetime.
    const older = await tokens.sign({ clientId: 'c', subject: 's', scopes: [], issuedAt: 900 }, context);
    assert.equal(older.expiresIn, 900 + 3600 - 1002);
  });

  test('a narrower scope may be asked for; a wider one is invalid_scope', async () => {
    const client = await newClient(['restaurants:write', 'orders:write']);
    const narrow = await tokenFor(client, { scope: 'orders:write' });
    assert.equal(narrow.scope, 'orders:write');
    const denied = await createRestaurant(narrow.access_token);
    assert.equal(denied.status, 403);
    const wide = await form('/oauth/token', { grant_type: 'client_credentials', scope: 'orders:write admin' }, { authorization: basic(client) });
    assert.equal(wide.status, 400);
    assert.deepEqual(wide.body, {
      error: 'invalid_scope',
      error_description: "The scope 'admin' is not granted to this client",
      error_uri: `${t.url}/docs/errors#invalid_scope`,
    });
    const refreshWide = await form('/oauth/token', { grant_type: 'refresh_token', refresh_token: narrow.refresh_token, scope: 'restaurants:write' }, { authorization: basic(client) });
    assert.equal(refreshWide.status, 400);
    assert.equal((refreshWide.body as { error: string }).error, 'invalid_scope', 'a refresh cannot widen its grant');
  });

  test('RFC 6749 §5.2 errors', async () => {
    const client = await newClient(['orders:read']);
    const cases: [string, Record<string, string>, Record<string, string>, number, string][] = [
      ['no client authentication', { grant_type: 'client_credentials' }, {}, 401, 'invalid_client'],
      ['a wrong secret', { grant_type: 'client_credentials' }, { authorization: basic({ id: client.id, secret: 'cs_nope' }) }, 401, 'invalid_client'],
      ['an unknown client', { grant_type: 'client_credentials' }, { authorization: basic({ id: 'deadbeef00', secret: client.secret }) }, 401, 'invalid_client'],
      ['a missing grant_type', {}, { authorization: basic(client) }, 400, 'invalid_request'],
      ['an unknown grant_type', { grant_type: 'password', username: 'a', password: 'b' }, { authorization: basic(client) }, 400, 'unsupported_grant_type'],
      ['two authentication methods', { grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret }, { authorization: basic(client) }, 400, 'invalid_request'],
      ['a refresh without refresh_token', { grant_type: 'refresh_token' }, { authorization: basic(client) }, 400, 'invalid_request'],
      ['an unknown refresh token', { grant_type: 'refresh_token', refresh_token: 'rt_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAA' }, { authorization: basic(client) }, 400, 'invalid_grant'],
      ['a malformed scope', { grant_type: 'client_credentials', scope: 'a"b' }, { authorization: basic(client) }, 400, 'invalid_scope'],
    ];
    for (const [what, params, headers, status, error] of cases) {
      const res = await form('/oauth/token', params, headers);
      assert.equal(res.status, status, what);
      assert.equal((res.body as { error: string }).error, error, what);
      assert.equal(res.headers.get('cache-control'), 'no-store', what);
      if (status === 401) assert.equal(res.headers.get('www-authenticate'), 'Basic realm="carte", charset="UTF-8"', what);
    }
    const json = await t.request('POST', '/oauth/token', { anonymous: true, body: { grant_type: 'client_credentials' }, headers: { authorization: basic(client) } });
    assert.equal(json.status, 400);
    assert.deepEqual(json.body, {
      error: 'invalid_request',
      error_description: 'The body must be application/x-www-form-urlencoded (RFC 6749 §4.4.2)',
      error_uri: `${t.url}/docs/errors#invalid_request`,
    });
    const twice = await t.request('POST', '/oauth/token', {
      anonymous: true,
      raw: 'grant_type=client_credentials&grant_type=refresh_token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client) },
    });
    assert.equal(twice.status, 400);
    assert.equal((twice.body as { error_description: string }).error_description, "The parameter 'grant_type' appears more than once (RFC 6749 §3.2)");
    const get = await t.request('GET', '/oauth/token', { anonymous: true });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST, OPTIONS');
  });

  test('a refresh token works only for its own client', async () => {
    const a = await newClient(['orders:read']);
    const b = await newClient(['orders:read']);
    const tokens = await tokenFor(a);
    const stolen = await form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: basic(b) });
    assert.equal(stolen.status, 400);
    assert.deepEqual(stolen.body, { error: 'invalid_grant', error_description: 'The refresh token was issued to another client', error_uri: `${t.url}/docs/errors#invalid_grant` });
    const own = await form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: basic(a) });
    assert.equal(own.status, 200, 'the attempt by another client did not spend it');
  });

  test('revoking a client stops its tokens at once and refuses its credentials', async () => {
    const client = await newClient(['restaurants:write']);
    const tokens = await tokenFor(client);
    assert.equal((await createRestaurant(tokens.access_token)).status, 201);
    assert.equal(await t.server.auth.clients.revoke(client.id), true);
    const res = await createRestaurant(tokens.access_token);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="carte", error="invalid_token", error_description="The access token was revoked"');
    const again = await form('/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(client) });
    assert.equal(again.status, 401);
    assert.equal((again.body as { error: string }).error, 'invalid_client');
  });
});

describe('introspection and revocation', () => {
  test('a client introspects its own tokens; others are inactive unless it holds oauth:introspect', async () => {
    const a = await newClient(['orders:read']);
    const b = await newClient(['orders:read']);
    const rs = await newClient(['oauth:introspect']);
    const tokens = await tokenFor(a);
    const own = await form('/oauth/introspect', { token: tokens.access_token }, { authorization: basic(a) });
    assert.equal(own.status, 200);
    const claims = decodeJwt(tokens.access_token);
    assert.deepEqual(own.body, {
      active: true,
      scope: 'orders:read',
      client_id: a.id,
      sub: a.id,
      token_type: 'Bearer',
      exp: claims.exp,
      iat: claims.iat,
      iss: t.url,
      aud: `${t.url}/v1`,
      jti: claims.jti,
    });
    const refresh = await form('/oauth/introspect', { token: tokens.refresh_token, token_type_hint: 'refresh_token' }, { authorization: basic(a) });
    assert.equal((refresh.body as { active: boolean; token_type: string }).token_type, 'refresh_token');
    assert.deepEqual(await form('/oauth/introspect', { token: tokens.access_token }, { authorization: basic(b) }).then((r) => r.body), { active: false });
    assert.equal(((await form('/oauth/introspect', { token: tokens.access_token }, { authorization: basic(rs) })).body as { active: boolean }).active, true);
    assert.deepEqual(await form('/oauth/introspect', { token: 'garbage' }, { authorization: basic(a) }).then((r) => r.body), { active: false });
    const unauthenticated = await form('/oauth/introspect', { token: tokens.access_token });
    assert.equal(unauthenticated.status, 401);
    assert.equal((unauthenticated.body as { error: string }).error, 'invalid_client');
  });

  test('revoking a refresh token revokes the access tokens of its grant; unknown tokens answer 200', async () => {
    const client = await newClient(['restaurants:write']);
    const tokens = await tokenFor(client);
    const res = await form('/oauth/revoke', { token: tokens.refresh_token, token_type_hint: 'refresh_token' }, { authorization: basic(client) });
    assert.equal(res.status, 200);
    assert.equal(res.text, '');
    assert.equal((await createRestaurant(tokens.access_token)).status, 401);
    const reuse = await form('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: basic(client) });
    assert.equal((reuse.body as { error: string }).error, 'invalid_grant');
    assert.equal((await form('/oauth/revoke', { token: 'not-a-token' }, { authorization: basic(client) })).status, 200);
    const missing = await form('/oauth/revoke', {}, { authorization: basic(client) });
    assert.equal(missing.status, 400);
    assert.equal((missing.body as { error: string }).error, 'invalid_request');
  });

  test("another client's token is left alone", async () => {
    const a = await newClient(['restaurants:write']);
    const b = await newClient(['restaurants:write']);
    const tokens = await tokenFor(a);
    assert.equal((await form('/oauth/revoke', { token: tokens.access_token }, { authorization: basic(b) })).status, 200);
    assert.equal((await createRestaurant(tokens.access_token)).status, 201);
  });
});

describe('tokeninfo (Google style, seed 004)', () => {
  test('GET /oauth/tokeninfo?access_token= describes a valid token; 400 invalid_token otherwise', async () => {
    const client = await newClient(['orders:read'], 'alice');
    const tokens = await tokenFor(client);
    const res = await t.request('GET', `/oauth/tokeninfo?access_token=${tokens.access_token}`, { anonymous: true });
    assert.equal(res.status, 200);
    const claims = decodeJwt(tokens.access_token);
    const body = res.body as Record<string, unknown>;
    assert.ok((body.expires_in as number) > 3590 && (body.expires_in as number) <= 3600);
    assert.deepEqual({ ...body, expires_in: 0 }, {
      issued_to: client.id,
      audience: `${t.url}/v1`,
      user_id: 'alice',
      scope: 'orders:read',
      expires_in: 0,
      access_type: 'online',
      client_id: client.id,
      sub: 'alice',
      exp: claims.exp,
    });
    const bad = await t.request('GET', '/oauth/tokeninfo?access_token=abc.def.ghi', { anonymous: true });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, { error: 'invalid_token', error_description: 'The access token is malformed', error_uri: `${t.url}/docs/errors#invalid_token` });
    const missing = await t.request('GET', '/oauth/tokeninfo', { anonymous: true });
    assert.equal(missing.status, 400);
    assert.equal((missing.body as { error: string }).error, 'invalid_request');
  });
});

describe('signing key rotation', () => {
  test('new tokens use the new key; tokens of the old one keep working while it stays published', async () => {
    const before = ((await t.get('/oauth/jwks.json')).body as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const oldToken = await t.mintToken('rotation', ['restaurants:write']);
    const rotated = await t.server.auth.keys.rotate();
    const after = ((await t.get('/oauth/jwks.json')).body as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    assert.deepEqual(after, [rotated.kid, ...before]);
    const newToken = await t.mintToken('rotation', ['restaurants:write']);
    assert.equal(decodeProtectedHeader(newToken).kid, rotated.kid);
    assert.equal(decodeProtectedHeader(oldToken).kid, before[0]);
    assert.equal((await createRestaurant(oldToken)).status, 201);
    assert.equal((await createRestaurant(newToken)).status, 201);
  });
});
