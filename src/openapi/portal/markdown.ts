/** A small Markdown subset (headings, paragraphs, fenced code, `code`, **bold**) for the docs pages Carte ships. */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function inline(text: string): string {
  return escapeHtml(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}

export function renderMarkdown(source: string): string {
  const out: string[] = [];
  for (const block of source.split(/^```.*$/m).map((b, i) => ({ b, code: i % 2 === 1 }))) {
    if (block.code) {
      out.push(`<pre><code>${escapeHtml(block.b.replace(/^\n|\n$/g, ''))}</code></pre>`);
      continue;
    }
    for (const para of block.b.split(/\n{2,}/)) {
      const text = para.trim();
      if (!text) continue;
      const heading = /^(#{1,4})\s+(.*)$/.exec(text);
      if (heading) {
        const level = (heading[1] as string).length;
        const title = heading[2] as string;
        const id = /^[a-z_]+$/.test(title) ? ` id="${title}"` : '';
        out.push(`<h${level}${id}>${inline(title)}</h${level}>`);
      } else out.push(`<p>${inline(text).replace(/\n/g, ' ')}</p>`);
    }
  }
  return out.join('\n');
}
