/** Content negotiation and formats (SPEC §4.2): JSON, XML and CSV by Accept, 406, XML bodies, no DTDs. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHttpServer, xmlText, type HttpServer } from './http-helpers.js';

let t: HttpServer;
before(async () => {
  t = await startHttpServer();
});
after(() => t.close());

const call = (method: string, path: string, init?: Parameters<HttpServer['request']>[2]) => t.request(method, path, init);
const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';

async function newDish(name: string, tags: string[] = ['spicy', 'house']): Promise<number> {
  const res = await call('POST', '/v1/dishes', { json: { restaurantId: 1, name, price: 9.5, tags } });
  assert.equal(res.status, 201);
  return (res.body as { id: number }).id;
}

describe('choosing the format by Accept', () => {
  test('JSON by default, for */* and without Accept; Vary: Accept on negotiated answers', async () => {
    for (const accept of [undefined, '*/*', 'application/*', 'application/json']) {
      const res = await call('GET', '/v1/restaurants/1', accept ? { headers: { accept } } : {});
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8', String(accept));
      assert.equal(res.headers.get('vary'), 'Accept', 'Access-Control-Allow-Origin: * does not depend on Origin');
    }
    const list = await call('GET', '/v1/restaurants?range=0-1');
    assert.equal(list.headers.get('vary'), 'Accept');
  });

  test('q-values win over order; on equal q the client order decides', async () => {
    const cases: [string, string][] = [
      ['application/json;q=0.5, application/xml', 'application/xml; charset=utf-8'],
      ['application/xml;q=0.4, application/json;q=0.9', 'application/json; charset=utf-8'],
      ['application/xml, application/json', 'application/xml; charset=utf-8'],
      ['application/json, application/xml', 'application/json; charset=utf-8'],
      ['text/xml', 'text/xml; charset=utf-8'],
      ['text/html, application/xml;q=0.9, */*;q=0.1', 'application/xml; charset=utf-8'],
      ['application/json;q=0, */*', 'application/xml; charset=utf-8'],
    ];
    for (const [accept, type] of cases) {
      const res = await call('GET', '/v1/restaurants/1', { headers: { accept } });
      assert.equal(res.status, 200, accept);
      assert.equal(res.headers.get('content-type'), type, accept);
    }
  });

  test('nothing acceptable is 406 with the available types, in JSON, before any write happens', async () => {
    const item = await call('GET', '/v1/restaurants/1', { headers: { accept: 'text/csv' } });
    assert.equal(item.status, 406);
    assert.equal(item.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(item.body, {
      error: 'not_acceptable',
      error_description: 'None of the acceptable media types can be produced; available: application/json, application/xml, text/xml',
      error_uri: `${t.url}/docs/errors#not_acceptable`,
      available: ['application/json', 'application/xml', 'text/xml'],
    });
    const list = await call('GET', '/v1/restaurants', { headers: { accept: 'image/png, application/json;q=0' } });
    assert.equal(list.status, 406);
    assert.deepEqual((list.body as { available: string[] }).available, ['application/json', 'application/xml', 'text/xml', 'text/csv']);
    const before = await call('GET', '/v1/restaurants?name=Never%20Written');
    const post = await call('POST', '/v1/restaurants', { json: { name: 'Never Written', type: 'thai' }, headers: { accept: 'text/csv' } });
    assert.equal(post.status, 406);
    const afterPost = await call('GET', '/v1/restaurants?name=Never%20Written');
    assert.equal(afterPost.text, before.text, 'the 406 came before the create');
  });
});

describe('XML answers', () => {
  test('an item: singular root, arrays as <item>, null as nil', async () => {
    const id = await newDish('Canard <laqué> & "riz"', ['a', "b'c"]);
    const res = await call('GET', `/v1/dishes/${id}?fields=name,price,vegetarian,tags`, { headers: { accept: 'application/xml' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/xml; charset=utf-8');
    assert.equal(
      res.text,
      `${XML_DECL}<dish><id>${id}</id><name>Canard &lt;laqué&gt; &amp; &quot;riz&quot;</name><price>9.5</price><vegetarian>false</vegetarian><tags><item>a</item><item>b&apos;c</item></tags></dish>`,
    );
    const control = await newDish('bell\u0007 and tab\t');
    const cleaned = await call('GET', `/v1/dishes/${control}?fields=name`, { headers: { accept: 'application/xml' } });
    assert.equal(cleaned.text, `${XML_DECL}<dish><id>${control}</id><name>bell\uFFFD and tab\t</name></dish>`, 'XML 1.0 cannot carry U+0007');
    const nil = await call('GET', '/v1/restaurants/1?fields=photo', { headers: { accept: 'application/xml' } });
    assert.equal(nil.text, `${XML_DECL}<restaurant><id>1</id><photo nil="true"/></restaurant>`);
  });

  test('a collection: plural root, one element per item, embedded collections named after their resource', async () => {
    const json = (await call('GET', '/v1/restaurants?type=chinese&range=0-1&fields=name')).body as { id: number; name: string }[];
    const res = await call('GET', '/v1/restaurants?type=chinese&range=0-1&fields=name', { headers: { accept: 'application/xml' } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('content-range'), '0-1/12');
    assert.equal(res.text, `${XML_DECL}<restaurants>${json.map((r) => `<restaurant><id>${r.id}</id><name>${xmlText(r.name)}</name></restaurant>`).join('')}</restaurants>`);
    const embedded = await call('GET', '/v1/clients/1?fields=name,orders(state)', { headers: { accept: 'application/xml' } });
    const orders = ((await call('GET', '/v1/clients/1?fields=name,orders(state)')).body as { orders: { id: number; state: string }[] }).orders;
    assert.ok(orders.length > 0, 'client 1 has orders');
    assert.equal(embedded.text, `${XML_DECL}<client><id>1</id><name>Bond</name><orders>${orders.map((o) => `<order><id>${o.id}</id><state>${o.state}</state></order>`).join('')}</orders></client>`);
  });

  test('links, search envelopes and operation results in XML', async () => {
    const item = await call('GET', '/v1/orders/1', { headers: { accept: 'application/xml' } });
    assert.ok(item.text.includes(`<links><item><rel>self</rel><href>${t.url}/v1/orders/1</href><action>GET</action><types><item>application/json</item><item>application/xml</item></types></item>`), item.text);
    const search = await call('GET', '/v1/restaurants/search?name=*napoli*&fields=name&range=0-0', { headers: { accept: 'application/xml' } });
    assert.equal(search.status, 206);
    const envelope = (await call('GET', '/v1/restaurants/search?name=*napoli*&fields=name&range=0-0')).body as { count: number; suggestions: string[]; results: { id: number; name: string }[] };
    assert.equal(envelope.results.length, 1);
    const [hit] = envelope.results as [{ id: number; name: string }];
    assert.equal(
      search.text,
      `${XML_DECL}<search><count>${envelope.count}</count><range>0-0</range><query>name=*napoli*</query><suggestions>${envelope.suggestions.map((w) => `<item>${w}</item>`).join('')}</suggestions><results><restaurant><id>${hit.id}</id><name>${xmlText(hit.name)}</name></restaurant></results></search>`,
    );
    const sum = await call('POST', '/v1/calculator/sum', { json: [1, 2, 3], headers: { accept: 'application/xml' } });
    assert.equal(sum.text, `${XML_DECL}<result>6</result>`);
  });

  test('errors are XML when XML was asked for, with the members of the JSON error', async () => {
    const res = await call('GET', '/v1/restaurants/999999', { headers: { accept: 'application/xml' } });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'application/xml; charset=utf-8');
    assert.equal(
      res.text,
      `${XML_DECL}<error><error>not_found</error><error_description>The restaurant with the id &apos;999999&apos; doesn&apos;t exist</error_description><error_uri>${t.url}/docs/errors#not_found</error_uri></error>`,
    );
    const invalid = await call('POST', '/v1/restaurants', { json: { type: 'german' }, headers: { accept: 'application/xml' } });
    assert.equal(invalid.status, 400);
    assert.match(invalid.text, /<errors><item><field>[a-z]+<\/field><error>[a-z]+<\/error><error_description>/);
  });
});

describe('CSV answers', () => {
  test('collections: header row, CRLF, quoting, nested values as JSON text', async () => {
    const json = (await call('GET', '/v1/restaurants?range=0-2&fields=name,days,address')).body as { id: number; name: string; days: string[] | null; address: object | null }[];
    const res = await call('GET', '/v1/restaurants?range=0-2&fields=name,days,address', { headers: { accept: 'text/csv' } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8; header=present');
    assert.equal(res.headers.get('content-range'), '0-2/48');
    const q = (v: unknown) => {
      if (v === null) return '';
      const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
      return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    assert.equal(res.text, `id,name,days,address\r\n${json.map((r) => [r.id, r.name, r.days, r.address].map(q).join(',')).join('\r\n')}\r\n`);
  });

  test('an empty page still has its header; search results are rows too', async () => {
    const empty = await call('GET', '/v1/restaurants?name=Nobody%20Here', { headers: { accept: 'text/csv' } });
    assert.equal(empty.status, 200);
    assert.equal(empty.text, 'id,name,type,rating,reviews,days,zipcode,address,photo,createdAt,updatedAt\r\n');
    const search = await call('GET', '/v1/restaurants/search?name=*napoli*&fields=name,type&range=0-1', { headers: { accept: 'text/csv' } });
    assert.equal(search.status, 206);
    const lines = search.text.split('\r\n');
    assert.equal(lines[0], 'id,name,type');
    assert.equal(lines.length, 4, 'two rows and a final line end');
    assert.match(lines[1] as string, /^\d+,[^,]*napoli[^,]*,[a-z]+$/i);
  });
});

describe('ETags differ per representation', () => {
  test('collections and items: JSON, XML and CSV have their own strong ETags, each answered with 304', async () => {
    const path = '/v1/restaurants?range=0-4&fields=name';
    const tags = new Set<string>();
    for (const accept of ['application/json', 'application/xml', 'text/csv']) {
      const res = await call('GET', path, { headers: { accept } });
      const tag = res.headers.get('etag') as string;
      assert.match(tag, /^"[A-Za-z0-9_-]{27}"$/);
      tags.add(tag);
      const again = await call('GET', path, { headers: { accept, 'if-none-match': tag } });
      assert.equal(again.status, 304, accept);
      assert.equal(again.headers.get('etag'), tag);
    }
    assert.equal(tags.size, 3);
    const json = await call('GET', '/v1/restaurants/2');
    const xml = await call('GET', '/v1/restaurants/2', { headers: { accept: 'application/xml' } });
    const jsonTag = json.headers.get('etag') as string;
    assert.equal(xml.headers.get('etag'), jsonTag.replace(/"$/, '.xml"'));
    const cross = await call('GET', '/v1/restaurants/2', { headers: { accept: 'application/xml', 'if-none-match': jsonTag } });
    assert.equal(cross.status, 200, "the JSON tag does not validate the XML representation");
    // Any representation's tag names the item's version for If-Match.
    const patched = await call('PATCH', '/v1/restaurants/2', { json: { reviews: 3 }, headers: { 'if-match': xml.headers.get('etag') as string } });
    assert.equal(patched.status, 200);
  });
});

describe('XML request bodies', () => {
  test('POST, PUT and PATCH read XML by the fields types; entities and CDATA are decoded', async () => {
    const created = await call('POST', '/v1/restaurants', {
      raw: '<?xml version="1.0"?>\n<restaurant>\n  <name>Chez &amp; Moi &#233;&#x41;<![CDATA[ <b>&amp;</b>]]></name>\n  <type>thai</type>\n  <rating>4</rating>\n  <days><item>sunday</item><item>monday</item></days>\n  <zipcode nil="true"/>\n  <address><city>Paris</city></address>\n</restaurant>',
      headers: { 'content-type': 'application/xml' },
    });
    assert.equal(created.status, 201, created.text);
    const body = created.body as Record<string, unknown>;
    assert.equal(body.name, 'Chez & Moi éA <b>&amp;</b>');
    assert.equal(body.rating, 4);
    assert.deepEqual(body.days, ['sunday', 'monday']);
    assert.equal(body.zipcode, null);
    assert.deepEqual(body.address, { city: 'Paris' });
    const id = body.id as number;
    const put = await call('PUT', `/v1/restaurants/${id}`, {
      raw: `<restaurant><id>${id}</id><name>Replaced</name><type>indian</type><days/><address><street>1 rue X</street><city>Lyon</city></address></restaurant>`,
      headers: { 'content-type': 'text/xml; charset=utf-8', accept: 'application/xml' },
    });
    assert.equal(put.status, 200);
    assert.match(put.text, new RegExp(`^<\\?xml version="1.0" encoding="UTF-8"\\?>\\n<restaurant><id>${id}</id><name>Replaced</name><type>indian</type><rating nil="true"/><reviews>0</reviews><days/><zipcode nil="true"/><address><street>1 rue X</street><city>Lyon</city></address>`));
    const patch = await call('PATCH', `/v1/restaurants/${id}`, { raw: '<restaurant><rating>2</rating><address><city nil="true"/></address></restaurant>', headers: { 'content-type': 'application/xml' } });
    assert.equal(patch.status, 200);
    assert.equal((patch.body as { rating: number }).rating, 2);
    assert.deepEqual((patch.body as { address: object }).address, { street: '1 rue X' });
  });

  test('a bulk PUT takes the collection shape; operations take their input schema', async () => {
    const a = await newDish('Bulk A');
    const b = await newDish('Bulk B');
    const res = await call('PUT', '/v1/dishes', {
      raw: `<dishes><dish><id>${a}</id><restaurantId>1</restaurantId><name>Bulk A2</name><price>1.5</price><vegetarian>true</vegetarian></dish><dish><id>${b}</id><restaurantId>2</restaurantId><name>Bulk B2</name><price>2</price></dish></dishes>`,
      headers: { 'content-type': 'application/xml' },
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      (res.body as { id: number; name: string; price: number; vegetarian: boolean }[]).map((d) => [d.id, d.name, d.price, d.vegetarian]),
      [[a, 'Bulk A2', 1.5, true], [b, 'Bulk B2', 2, false]],
    );
    const sum = await call('POST', '/v1/calculator/sum', { raw: '<input><item>1</item><item>2.5</item><item>-3</item></input>', headers: { 'content-type': 'application/xml' } });
    assert.deepEqual(sum.body, { result: 0.5 });
    const convert = await call('POST', '/v1/convert', { raw: '<input><from>EUR</from><to>USD</to><amount>100</amount></input>', headers: { 'content-type': 'application/xml' } });
    assert.deepEqual(convert.body, { result: 108 });
  });

  test('values of the wrong type are named by validation, as in JSON', async () => {
    const res = await call('POST', '/v1/restaurants', { raw: '<restaurant><name>X</name><type>thai</type><rating>four</rating></restaurant>', headers: { 'content-type': 'application/xml' } });
    assert.equal(res.status, 400);
    assert.deepEqual((res.body as { errors: unknown[] }).errors, [{ field: 'rating', error: 'type', error_description: "'rating' must be an integer" }]);
  });

  test('a DTD, an entity-expansion bomb or an external entity is 400 at once', async () => {
    const bomb =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
      '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">' +
      '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">' +
      '<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"><!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">' +
      '<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"><!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>' +
      '<restaurant><name>&lol9;</name><type>thai</type></restaurant>';
    const external = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><restaurant><name>&xxe;</name><type>thai</type></restaurant>';
    for (const raw of [bomb, external, '<!doctype restaurant><restaurant/>']) {
      const res = await call('POST', '/v1/restaurants', { raw, headers: { 'content-type': 'application/xml' } });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, {
        error: 'invalid_body',
        error_description: 'XML bodies may not carry a DTD or entity declarations',
        error_uri: `${t.url}/docs/errors#invalid_body`,
      });
    }
  });

  test('malformed XML, undeclared entities and repeated elements are 400 invalid_body', async () => {
    const cases: [string, RegExp][] = [
      ['<restaurant><name>x</restaurant>', /^The body is not well-formed XML: /],
      ['<restaurant><name>&nbsp;</name></restaurant>', /^The XML body holds an undeclared entity or a stray '&' near '&'$/],
      ['<restaurant><name>a</name><name>b</name></restaurant>', /^The XML element 'restaurant\.name' appears twice$/],
      ['<a/><b/>', /^An XML body has exactly one root element$/],
      ['<restaurant><address><entry key="__proto__"><admin>true</admin></entry></address></restaurant>', /^The XML element 'restaurant\.address\.__proto__' has a reserved name$/],
      [`<restaurant><address>${'<a>'.repeat(100)}${'</a>'.repeat(100)}</address></restaurant>`, /^The body is not well-formed XML: Maximum nested tags exceeded$/],
      ['', /./],
    ];
    for (const [raw, message] of cases) {
      const res = await call('POST', '/v1/restaurants', { raw, headers: { 'content-type': 'application/xml' } });
      assert.equal(res.status, 400, raw);
      const body = res.body as { error: string; error_description: string };
      assert.ok(body.error === 'invalid_body' || body.error === 'invalid_restaurant', `${raw}: ${body.error}`);
      if (raw !== '') assert.match(body.error_description, message, raw);
    }
  });

  test('the versioned vendor media types are accepted as request bodies', async () => {
    const res = await call('POST', '/v1/restaurants', { raw: JSON.stringify({ name: 'Vendor', type: 'thai' }), headers: { 'content-type': 'application/vnd.carte.v1+json' } });
    assert.equal(res.status, 201);
    const xml = await call('POST', '/v1/restaurants', { raw: '<restaurant><name>Vendor XML</name><type>thai</type></restaurant>', headers: { 'content-type': 'application/vnd.carte.v1+xml' } });
    assert.equal(xml.status, 201);
  });
});
