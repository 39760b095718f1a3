/**
 * GraphiQL for a browser's `GET /v1/graphql` (SPEC §6), entirely from local files: the UMD
 * builds shipped in the `graphiql`, `react` and `react-dom` npm packages, served from memory
 * under `/v1/graphql/assets/` — no CDN, so it works with the network cut off.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { digestOf } from '../../service/present.js';

const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  return path.dirname(require.resolve(`${name}/package.json`));
}

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

/** The files the page loads, by the name it loads them under. */
const SOURCES: Readonly<Record<string, { readonly file: () => string; readonly type: string }>> = {
  'react.production.min.js': { file: () => path.join(packageDir('react'), 'umd', 'react.production.min.js'), type: 'text/javascript; charset=utf-8' },
  'react-dom.production.min.js': { file: () => path.join(packageDir('react-dom'), 'umd', 'react-dom.production.min.js'), type: 'text/javascript; charset=utf-8' },
  'graphiql.min.js': { file: () => path.join(packageDir('graphiql'), 'graphiql.min.js'), type: 'text/javascript; charset=utf-8' },
  'graphiql.min.css': { file: () => path.join(packageDir('graphiql'), 'graphiql.min.css'), type: 'text/css; charset=utf-8' },
};

/** The page's own script (a file, not inline, so a strict Content-Security-Policy can allow 'self' only). */
const BOOT = `// Starts GraphiQL against the endpoint named by the page.
(function () {
  var url = document.getElementById('graphiql').getAttribute('data-endpoint');
  var fetcher = GraphiQL.createFetcher({ url: url });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true }));
})();
`;

const cache = new Map<string, Asset>();

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${digestOf(body)}"` };
}

/** An asset by name, read once; undefined for anything not in the list (no path traversal). */
export function graphiqlAsset(name: string): Asset | undefined {
  const cached = cache.get(name);
  if (cached) return cached;
  let out: Asset | undefined;
  if (name === 'boot.js') out = asset(Buffer.from(BOOT), 'text/javascript; charset=utf-8');
  else {
    const source = Object.hasOwn(SOURCES, name) ? SOURCES[name] : undefined;
    if (!source) return undefined;
    out = asset(readFileSync(source.file()), source.type);
  }
  cache.set(name, out);
  return out;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** The HTML page: GraphiQL on the whole window, assets relative to the endpoint. */
export function graphiqlPage(title: string, endpoint: string): string {
  const assets = `${endpoint}/assets`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — GraphiQL</title>
<link rel="stylesheet" href="${assets}/graphiql.min.css">
<style>html, body { height: 100%; margin: 0; } #graphiql { height: 100vh; }</style>
</head>
<body>
<div id="graphiql" data-endpoint="${escapeHtml(endpoint)}">Loading GraphiQL…</div>
<script src="${assets}/react.production.min.js"></script>
<script src="${assets}/react-dom.production.min.js"></script>
<script src="${assets}/graphiql.min.js"></script>
<script src="${assets}/boot.js"></script>
</body>
</html>
`;
}
