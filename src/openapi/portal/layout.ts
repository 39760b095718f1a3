/**
 * The frame of every portal page: the local stylesheet and script (`/docs/assets/…`, no CDN,
 * no web font), the navigation between the reference, the getting-started page, the errors
 * and the machine-readable documents.
 */
import { escapeHtml } from './markdown.js';

export interface PageOptions {
  readonly title: string;
  readonly api: string;
  /** The API's prefix (`/v1`), for the links to its documents. */
  readonly prefix: string;
  /** Which entry of the navigation is this page. */
  readonly current: 'reference' | 'getting-started' | 'errors';
  /** A side navigation (the reference's table of contents). */
  readonly sidebar?: string;
  readonly body: string;
}

export function page(options: PageOptions): string {
  const link = (href: string, label: string, key?: PageOptions['current']) =>
    `<a href="${href}"${key === options.current ? ' aria-current="page"' : ''}>${label}</a>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)}</title>
<link rel="stylesheet" href="/docs/assets/portal.css">
<script src="/docs/assets/portal.js" defer></script>
</head><body>
<header class="top"><a class="brand" href="/docs">${escapeHtml(options.api)}</a>
<nav>${link('/docs', 'Reference', 'reference')}${link('/docs/getting-started', 'Getting started', 'getting-started')}${link('/docs/errors', 'Errors', 'errors')}${link(`${options.prefix}/openapi.json`, 'OpenAPI')}${link(`${options.prefix}/openapi.yaml`, 'YAML')}${link(`${options.prefix}/asyncapi.json`, 'AsyncAPI')}${link(options.prefix, 'API')}</nav></header>
<div class="layout${options.sidebar ? ' with-sidebar' : ''}">
${options.sidebar ? `<aside class="sidebar">${options.sidebar}</aside>` : ''}
<main>
${options.body}
</main></div>
</body></html>`;
}
