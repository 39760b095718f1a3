// Each request's logger (src/request-logger.ts): a pino child only when the request writes.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mock, test } from 'node:test';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { childLoggerFactory } from '../src/request-logger.js';

/** A Fastify app logging into an array, with a route that logs what `?say=` asks for. */
async function appWith(level: string, factory: FastifyServerOptions['childLoggerFactory']) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  let n = 0;
  const app = Fastify({ logger: { level, stream }, genReqId: () => `req-${++n}`, ...(factory ? { childLoggerFactory: factory } : {}) });
  app.get('/', async (request) => {
    const say = (request.query as { say?: string }).say;
    if (say === 'warn') request.log.warn({ detail: 1 }, 'careful');
    if (say === 'info') request.log.info('chatty');
    if (say === 'child') request.log.child({ part: 'inner' }).error('nested');
    return { level: request.log.level };
  });
  await app.ready();
  return { app, lines };
}

/** The lines without what differs from run to run. */
function comparable(lines: Record<string, unknown>[]) {
  return lines.map(({ time: _t, pid: _p, hostname: _h, responseTime: _r, ...rest }) => rest);
}

for (const level of ['warn', 'info', 'trace']) {
  test(`at ${level}, requests log exactly what Fastify's own child loggers log`, async () => {
    const ours = await appWith(level, childLoggerFactory);
    const fastifys = await appWith(level, undefined);
    for (const { app } of [ours, fastifys]) {
      for (const say of ['nothing', 'warn', 'info', 'child']) {
        const res = await app.inject(`/?say=${say}`);
        assert.equal(res.json().level, level);
      }
      await app.close();
    }
    assert.ok(ours.lines.length > 0);
    assert.deepEqual(comparable(ours.lines), comparable(fastifys.lines));
  });
}

test('at warn, a request that writes no line creates no pino child; one that writes gets its request id bound', async () => {
  const { app, lines } = await appWith('warn', childLoggerFactory);
  const child = mock.method(app.log, 'child');
  await app.inject('/?say=nothing');
  await app.inject('/?say=info');
  assert.equal(child.mock.callCount(), 0);
  await app.inject('/?say=warn');
  assert.equal(child.mock.callCount(), 1);
  assert.deepEqual(comparable(lines), [{ level: 40, reqId: 'req-3', detail: 1, msg: 'careful' }]);
  await app.close();
});
