/**
 * The developer portal (SPEC §9), served from local files and generated HTML only — no CDN,
 * no web font, so it works with the network cut off: `/docs` (the API reference rendered from
 * the OpenAPI document: resources and operations apart, a cURL example for each),
 * `/docs/getting-started` (a token, then the first requests) and `/docs/errors` (one anchor
 * per error code: the `error_uri` targets). Pages are rendered once per set of base URLs.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { errors } from '../../errors.js';
import { baseUrlOf, pathOf, sendError } from '../../protocols/rest/reply.js';
import type { DocumentUrls } from '../document.js';
import { documentRenderer, urlsOf, type OpenApiOptions } from '../plugin.js';
import { renderGettingStarted } from './getting-started.js';
import { page } from './layout.js';
import { escapeHtml, renderMarkdown } from './markdown.js';
import { renderReference } from './reference.js';

const ERRORS_MD = new URL('../../../docs/errors.md', import.meta.url);
/** The portal's stylesheet and script, shipped in `docs/portal/` (the package's `files` include `docs`). */
const ASSETS: Readonly<Record<string, { file: URL; type: string }>> = {
  'portal.css': { file: new URL('../../../docs/portal/portal.css', import.meta.url), type: 'text/css; charset=utf-8' },
  'portal.js': { file: new URL('../../../docs/portal/portal.js', import.meta.url), type: 'text/javascript; charset=utf-8' },
};

/** '' when the API and the portal share a host (links stay relative), else the API's base URL. */
function apiLinkBase(urls: DocumentUrls): string {
  return urls.api === urls.developer ? '' : urls.api;
}

/** Pages kept per set of base URLs (a handful: hosts, a proxy), bounded against forged Host headers. */
const MAX_PAGES = 16;

export async function docsPlugin(app: FastifyInstance, options: OpenApiOptions): Promise<void> {
  const { service } = options;
  const api = service.api;
  const render = documentRenderer(options);
  const assets = Object.fromEntries(Object.entries(ASSETS).map(([name, a]) => [name, { text: readFileSync(a.file, 'utf8'), type: a.type }]));
  const pages = new Map<string, { reference: string; gettingStarted: string }>();
  const pagesFor = (urls: ReturnType<typeof urlsOf>) => {
    const key = `${urls.api} ${urls.oauth} ${urls.developer}`;
    let out = pages.get(key);
    if (!out) {
      const doc = render(urls).doc;
      const reference = renderReference(doc);
      // With config.hosts the API answers on another host than the portal: links to it are absolute.
      const common = { api: api.name, prefix: `${apiLinkBase(urls)}${service.prefix}` };
      out = {
        reference: page({ ...common, title: `${api.name} — API reference`, current: 'reference', sidebar: reference.sidebar, body: reference.body }),
        gettingStarted: page({ ...common, title: `${api.name} — getting started`, current: 'getting-started', body: renderGettingStarted(doc, apiLinkBase(urls)) }),
      };
      if (pages.size >= MAX_PAGES) pages.delete(pages.keys().next().value as string);
      pages.set(key, out);
    }
    return out;
  };

  app.get('/docs', async (request, reply) => reply.type('text/html; charset=utf-8').send(pagesFor(urlsOf(request, options.config.publicUrl)).reference));

  app.get('/docs/getting-started', async (request, reply) => reply.type('text/html; charset=utf-8').send(pagesFor(urlsOf(request, options.config.publicUrl)).gettingStarted));

  app.get('/docs/assets/:file', async (request, reply) => {
    const asset = assets[(request.params as { file: string }).file];
    if (!asset) return sendError(request, reply, errors.noRoute(request.method, pathOf(request)), baseUrlOf(request, options.config.publicUrl));
    return reply.header('Cache-Control', 'public, max-age=300').type(asset.type).send(asset.text);
  });

  app.get('/docs/errors', async (request, reply) => {
    const markdown = await readFile(ERRORS_MD, 'utf8');
    const perResource = [...api.resources.values()]
      .map((r) => `<h3 id="invalid_${r.singular.replace(/-/g, '_')}">invalid_${r.singular.replace(/-/g, '_')}</h3><p><strong>400.</strong> A ${escapeHtml(r.singular)} body breaks the rules of <code>${r.name}</code>; see <a href="#invalid_resource">invalid_resource</a>.</p>`)
      .join('\n');
    return reply
      .type('text/html; charset=utf-8')
      .send(page({ title: `${api.name} — errors`, api: api.name, prefix: `${apiLinkBase(urlsOf(request, options.config.publicUrl))}${service.prefix}`, current: 'errors', body: `${renderMarkdown(markdown)}\n<h2 id="per-resource">Codes of this API's resources</h2>\n${perResource}` }));
  });
}
