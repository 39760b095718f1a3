/**
 * SPEC §9 / seed 004: the developer portal is rendered from the OpenAPI document — resources
 * and operations in separate sections, a copy-paste cURL example for every operation (run
 * here, as a user would paste them, with `$TOKEN` from the getting-started page's client
 * credentials command), `/docs/errors` with an anchor per code, and nothing loaded from
 * anywhere but the server itself.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ERROR_KINDS } from '../src/errors.js';
import { startServer, type TestServer } from './helpers.js';

const exec = promisify(execFile);

function unescapeHtml(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

/** The cURL command shown for an operation (`<code id="op-<operationId>-curl">`). */
function curlOf(html: string, operationId: string): string {
  const m = new RegExp(`<code id="op-${operationId}-curl">([\\s\\S]*?)</code>`).exec(html);
  assert.ok(m, `a cURL example for ${operationId}`);
  return unescapeHtml(m[1] as string);
}

/** Runs a shell command as pasted into a terminal; returns the HTTP status of `curl -i` and the body. */
async function runCurl(command: string, env: Record<string, string>): Promise<{ status: number; body: string }> {
  const { stdout } = await exec('bash', ['-c', command], { env: { ...process.env, ...env }, maxBuffer: 8 * 1024 * 1024 });
  const status = /^HTTP\/[\d.]+ (\d{3})/.exec(stdout);
  assert.ok(status, `curl printed a status line: ${stdout.slice(0, 300)}`);
  return { status: Number(status[1]), body: stdout.slice(stdout.indexOf('\r\n\r\n') + 4) };
}

describe('developer portal', () => {
  let t: TestServer;
  let html: string;
  let doc: { paths: Record<string, Record<string, { operationId: string; security?: Record<string, unknown>[] }>> };
  before(async () => {
    t = await startServer();
    const res = await t.request('GET', '/docs', { anonymous: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    html = res.text;
    doc = (await t.request('GET', '/v1/openapi.json', { anonymous: true })).body as typeof doc;
  });
  after(() => t.close());

  it('renders every operation of the OpenAPI document, each with a cURL example, resources and operations apart', () => {
    const operations = Object.values(doc.paths).flatMap((item) => Object.values(item));
    assert.ok(operations.length > 80);
    for (const o of operations) {
      assert.ok(html.includes(`id="op-${o.operationId}"`), `section for ${o.operationId}`);
      curlOf(html, o.operationId);
    }
    assert.equal((html.match(/<section class="operation"/g) ?? []).length, operations.length);
    const resources = html.indexOf('id="group-resources"');
    const ops = html.indexOf('id="group-operations"');
    assert.ok(resources > 0 && ops > resources, 'Resources, then Operations');
    // The operations section holds the non-resource scenarios, not the CRUD.
    const opsSection = html.slice(ops, html.indexOf('<section class="group"', ops + 10));
    assert.ok(opsSection.includes('id="op-calculatorSum"') && opsSection.includes('id="op-convert"'));
    assert.ok(!opsSection.includes('id="op-createRestaurant"'));
    // The fields of each resource, from its schema.
    assert.match(html, /The <code>Restaurant<\/code> fields/);
    // A link to the AsyncAPI document of the event side.
    assert.match(html, /href="\/v1\/asyncapi\.json"/);
  });

  it('a token is in the cURL examples of the operations that need one, and only there', () => {
    assert.match(curlOf(html, 'createRestaurant'), /-H "Authorization: Bearer \$TOKEN"/);
    assert.match(curlOf(html, 'updateOrder'), /-H "Authorization: Bearer \$TOKEN"/);
    assert.doesNotMatch(curlOf(html, 'listRestaurants'), /Authorization/);
    assert.doesNotMatch(curlOf(html, 'calculatorSum'), /Authorization/);
    assert.match(curlOf(html, 'oauthToken'), /-u "\$CLIENT_ID:\$CLIENT_SECRET"/);
    assert.equal(curlOf(html, 'listRestaurants'), `curl -i \\\n  '${t.url}/v1/restaurants?range=0-9'`);
    assert.equal(
      curlOf(html, 'createRestaurant'),
      `curl -i -X POST \\\n  -H "Authorization: Bearer $TOKEN" \\\n  -H "Content-Type: application/json" \\\n  -d '{"name":"Pizzeria Napoli","type":"thai","rating":3,"reviews":4,"days":["monday","tuesday"],"zipcode":"75002","address":{"street":"12 rue de la Paix","city":"Paris"}}' \\\n  '${t.url}/v1/restaurants'`,
    );
  });

  it('the cURL examples work when pasted, with the token the getting-started page obtains', { timeout: 60_000 }, async () => {
    const started = await t.request('GET', '/docs/getting-started', { anonymous: true });
    assert.equal(started.status, 200);
    assert.match(started.text, /carte serve --dev/);
    assert.match(started.text, /npx carte clients create --name my-app/);
    // The page's command that puts the access token in $TOKEN, run as written.
    const command = unescapeHtml(/<code id="gs-token">([\s\S]*?)<\/code>/.exec(started.text)?.[1] ?? '');
    const exportLine = command.split('\n').find((l) => l.startsWith('export TOKEN='));
    assert.ok(exportLine, command);
    const client = await t.server.auth.clients.create({ name: 'portal-test', scopes: ['restaurants:write', 'orders:write'] });
    const credentials = { CLIENT_ID: client.clientId, CLIENT_SECRET: client.clientSecret };
    const { stdout: token } = await exec('bash', ['-c', `${exportLine}\nprintf %s "$TOKEN"`], { env: { ...process.env, ...credentials } });
    assert.match(token, /^eyJ/);
    const env = { TOKEN: token };

    const list = await runCurl(curlOf(html, 'listRestaurants'), env);
    assert.equal(list.status, 206);
    assert.equal((JSON.parse(list.body) as unknown[]).length, 10);
    const created = await runCurl(curlOf(html, 'createRestaurant'), env);
    assert.equal(created.status, 201, created.body);
    assert.equal((await runCurl(curlOf(html, 'getRestaurant'), env)).status, 200);
    assert.equal((await runCurl(curlOf(html, 'getRestaurantHead'), env)).status, 200);
    const search = await runCurl(curlOf(html, 'searchRestaurants'), env);
    assert.equal(search.status, 200, search.body);
    assert.ok((JSON.parse(search.body) as { count: number }).count >= 1);
    const sum = await runCurl(curlOf(html, 'calculatorSum'), env);
    assert.equal(sum.status, 200);
    assert.deepEqual(JSON.parse(sum.body), { result: 53 });
    const convert = await runCurl(curlOf(html, 'convert'), env);
    assert.equal(convert.status, 200, convert.body);
    const patched = await runCurl(curlOf(html, 'updateRestaurant'), env);
    assert.equal(patched.status, 200, patched.body);
    const everything = await runCurl(curlOf(html, 'searchEverything'), env);
    assert.ok([200, 206].includes(everything.status), everything.body);
    const events = await runCurl(curlOf(html, 'listEvents'), env);
    assert.ok([200, 206].includes(events.status), events.body);
    assert.equal((await runCurl(curlOf(html, 'discover'), env)).status, 200);
    const rpc = await runCurl(curlOf(html, 'jsonRpc'), env);
    assert.equal(rpc.status, 200);
    assert.equal((JSON.parse(rpc.body) as { result: { items: unknown[] } }).result.items.length, 5);
    for (const id of ['graphqlPost', 'graphqlGet']) {
      const gql = await runCurl(curlOf(html, id), env);
      assert.equal(gql.status, 200, gql.body);
      const answer = JSON.parse(gql.body) as { data?: { restaurants: { items: unknown[] } }; errors?: unknown };
      assert.equal(answer.errors, undefined, gql.body);
      assert.equal(answer.data?.restaurants.items.length, 5);
    }
    // Webhooks: the registration example passes the address guard as pasted (no DNS, no private
    // address); the id it answers replaces the example id in the other webhook examples.
    const hook = await runCurl(curlOf(html, 'createWebhook'), env);
    assert.equal(hook.status, 201, hook.body);
    const registered = JSON.parse(hook.body) as { id: string; secret: string };
    assert.match(registered.secret, /^whsec_/);
    const exampleId = /\/v1\/webhooks\/(wh_[0-9a-f]{32})'$/.exec(curlOf(html, 'getWebhook'))?.[1];
    assert.ok(exampleId, curlOf(html, 'getWebhook'));
    const withId = (operationId: string) => curlOf(html, operationId).replace(exampleId, registered.id);
    const hooks = await runCurl(curlOf(html, 'listWebhooks'), env);
    assert.equal(hooks.status, 200, hooks.body);
    assert.deepEqual((JSON.parse(hooks.body) as { id: string }[]).map((w) => w.id), [registered.id]);
    assert.equal((await runCurl(withId('getWebhook'), env)).status, 200);
    const changed = await runCurl(withId('updateWebhook'), env);
    assert.equal(changed.status, 200, changed.body);
    assert.equal((await runCurl(withId('rotateWebhookSecret'), env)).status, 201);
    assert.equal((await runCurl(withId('listWebhookDeliveries'), env)).status, 200);
    assert.equal((await runCurl(withId('getWebhookDelivery'), env)).status, 404);
    assert.equal((await runCurl(withId('deleteWebhook'), env)).status, 204);
    assert.equal((await runCurl(withId('getWebhook'), env)).status, 404);
    // Without the token, the same write is refused as documented.
    assert.equal((await runCurl(curlOf(html, 'createRestaurant'), { TOKEN: '' })).status, 401);
  });

  it('nothing comes from another origin: every src and href is local', () => {
    for (const m of html.matchAll(/\s(?:src|href)="([^"]*)"/g)) {
      const url = m[1] as string;
      assert.ok(url.startsWith('/') || url.startsWith('#'), `local reference: ${url}`);
    }
    assert.doesNotMatch(html, /@import|url\(http|fonts\.googleapis|cdn/i);
  });

  it('serves its stylesheet and script locally; an unknown asset is a JSON 404', async () => {
    const css = await t.request('GET', '/docs/assets/portal.css', { anonymous: true });
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
    assert.doesNotMatch(css.text, /url\(|@import|@font-face/);
    const js = await t.request('GET', '/docs/assets/portal.js', { anonymous: true });
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    const missing = await t.request('GET', '/docs/assets/../../package.json', { anonymous: true });
    assert.equal(missing.status, 404);
    const none = await t.request('GET', '/docs/assets/nope.css', { anonymous: true });
    assert.equal(none.status, 404);
    assert.equal((none.body as { error: string }).error, 'not_found');
  });

  it('/docs/errors has an anchor for every error code, the targets of error_uri', async () => {
    const res = await t.request('GET', '/docs/errors', { anonymous: true });
    assert.equal(res.status, 200);
    for (const code of Object.keys(ERROR_KINDS)) assert.ok(res.text.includes(`id="${code}"`), code);
    for (const code of ['invalid_restaurant', 'invalid_order']) assert.ok(res.text.includes(`id="${code}"`), code);
    const error = (await t.request('GET', '/v1/restaurants/999999')).body as { error_uri: string };
    assert.equal(error.error_uri, `${t.url}/docs/errors#not_found`);
  });

  it('every cURL example of the page, run in order with a full-scope token, answers a status its operation documents', { timeout: 120_000 }, async () => {
    const client = await t.server.auth.clients.create({ name: 'every-example', scopes: t.server.auth.scopesSupported() });
    const env = { TOKEN: t.token, CLIENT_ID: client.clientId, CLIENT_SECRET: client.clientSecret };
    const ran: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, o] of Object.entries(item)) {
        const command = curlOf(html, o.operationId);
        if (command.includes('@file.')) continue; // a blob upload needs a file of the user's
        const { status } = await runCurl(command, env);
        const documented = Object.keys((o as unknown as { responses: Record<string, unknown> }).responses);
        assert.ok(documented.includes(String(status)), `${method.toUpperCase()} ${path} (${o.operationId}) answered ${status}; documented: ${documented.join(', ')}`);
        ran.push(`${o.operationId}:${status}`);
      }
    }
    assert.ok(ran.length > 90, `${ran.length} examples ran`);
    // Reads, creates and operations succeed as pasted (conflicts on unique or referenced rows are documented answers).
    for (const expected of ['listRestaurants:206', 'createRestaurant:201', 'getRestaurant:200', 'updateOrder:200', 'calculatorSum:200', 'oauthToken:200', 'listEvents:206', 'graphqlGet:200', 'listWebhooks:200', 'createWebhook:201', 'getWebhook:404']) {
      assert.ok(ran.includes(expected), `${expected} in ${ran.join(' ')}`);
    }
  });

  it('with one host per face, the portal links the API and the document names the API and OAuth hosts', async () => {
    const hosts = { api: 'api.example.test', oauth: 'oauth2.example.test', developer: 'developers.example.test' };
    const h = await startServer({ config: { hosts } });
    const { port } = new URL(h.url);
    const call = (host: string, path: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const docs = await call(hosts.developer, '/docs');
      assert.equal(docs.status, 200);
      assert.match(docs.text, /href="http:\/\/api\.example\.test\/v1\/openapi\.json"/);
      assert.equal(curlOf(docs.text, 'listRestaurants'), `curl -i \\\n  'http://api.example.test/v1/restaurants?range=0-9'`);
      assert.match(curlOf(docs.text, 'oauthToken'), /'http:\/\/oauth2\.example\.test\/oauth\/token'$/);
      const started = await call(hosts.developer, '/docs/getting-started');
      assert.match(started.text, /href="http:\/\/api\.example\.test\/v1\/openapi\.yaml"/);
      const d = JSON.parse((await call(hosts.api, '/v1/openapi.json')).text) as { servers: { url: string }[]; paths: Record<string, { servers?: { url: string }[] }>; components: { securitySchemes: { oauth2: { flows: { clientCredentials: { tokenUrl: string } } } } } };
      assert.deepEqual(d.servers.map((s) => s.url), ['http://api.example.test']);
      assert.equal((d as unknown as { externalDocs: { url: string } }).externalDocs.url, 'http://developers.example.test/docs');
      assert.deepEqual(d.paths['/oauth/token']?.servers, [{ url: 'http://oauth2.example.test' }]);
      assert.equal(d.components.securitySchemes.oauth2.flows.clientCredentials.tokenUrl, 'http://oauth2.example.test/oauth/token');
      assert.equal((await call(hosts.developer, '/v1/openapi.json')).status, 404);
    } finally {
      await h.close();
    }
  });
});
