/**
 * The developer portal's pages, served from local files and generated HTML only (no CDN):
 * `/docs` (resources and operations apart, a cURL example for each) and `/docs/errors`
 * (one anchor per error code: the `error_uri` targets).
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ResourceService } from '../../service/resource-service.js';
import { renderMarkdown } from './markdown.js';

const ERRORS_MD = new URL('../../../docs/errors.md', import.meta.url);

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
h1,h2,h3{line-height:1.2}h2{margin-top:2rem;border-bottom:1px solid #dde}code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em}
pre{background:#f4f5f8;padding:.75rem;overflow-x:auto;border-radius:6px}a{color:#2451b5}nav a{margin-right:1rem}
</style></head><body><nav><a href="/docs">Reference</a><a href="/docs/errors">Errors</a></nav>
${body}
</body></html>`;
}

export async function docsPlugin(app: FastifyInstance, options: { service: ResourceService }): Promise<void> {
  const { service } = options;
  const api = service.api;
  const base = (request: FastifyRequest) => `${request.protocol}://${request.host}`;

  app.get('/docs', async (request, reply) => {
    const b = base(request);
    const p = `${b}${service.prefix}`;
    const resources = [...api.resources.values()]
      .map((r) => {
        const fields = r.fieldList.map((f) => `<code>${escapeHtml(f.name)}</code> ${f.type}`).join(', ');
        return `<h3 id="${r.name}">${r.name}</h3>${r.description ? `<p>${escapeHtml(r.description)}</p>` : ''}<p>Fields: <code>id</code>, ${fields}</p>
<pre><code>curl -i '${p}/${r.name}?range=0-4'
curl -i '${p}/${r.name}/1'
curl -i -X POST '${p}/${r.name}' -H 'Content-Type: application/json' -d '{…}'
curl -i -X PATCH '${p}/${r.name}/1' -H 'Content-Type: application/merge-patch+json' -d '{…}'
curl -i -X DELETE '${p}/${r.name}/1'</code></pre>`;
      })
      .join('\n');
    const operations = [...api.actions.values()]
      .map((a) => `<h3 id="op-${a.rpcName}">POST ${service.prefix}/${a.path}</h3>${a.spec.summary ? `<p>${escapeHtml(a.spec.summary)}</p>` : ''}
<pre><code>curl -i -X POST '${p}/${a.path}' -H 'Content-Type: application/json' -d '${escapeHtml(JSON.stringify((a.spec.input?.examples as unknown[] | undefined)?.[0] ?? {}))}'</code></pre>`)
      .join('\n');
    return reply.type('text/html; charset=utf-8').send(
      page(`${api.name} — API reference`, `<h1>${escapeHtml(api.name)}</h1>${api.description ? `<p>${escapeHtml(api.description)}</p>` : ''}
<p>Base URL: <code>${p}</code>. Discovery: <a href="${p}">${p}</a>.</p>
<h2 id="resources">Resources</h2>${resources}<h2 id="operations">Operations</h2>${operations || '<p>None.</p>'}`),
    );
  });

  app.get('/docs/errors', async (_request, reply) => {
    const markdown = await readFile(ERRORS_MD, 'utf8');
    const perResource = [...api.resources.values()]
      .map((r) => `<h3 id="invalid_${r.singular.replace(/-/g, '_')}">invalid_${r.singular.replace(/-/g, '_')}</h3><p><strong>400.</strong> A ${escapeHtml(r.singular)} body breaks the rules of <code>${r.name}</code>; see <a href="#invalid_resource">invalid_resource</a>.</p>`)
      .join('\n');
    return reply.type('text/html; charset=utf-8').send(page(`${api.name} — errors`, `${renderMarkdown(markdown)}\n<h2 id="per-resource">Codes of this API's resources</h2>\n${perResource}`));
  });
}
