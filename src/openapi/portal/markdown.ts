/** A small Markdown subset (headings, paragraphs, lists, fenced code, `code`, **bold**) for the docs pages Carte ships and the descriptions of the OpenAPI document. */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export function inline(text: string): string {
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
    // Headings are lines of their own; other lines gather into paragraphs.
    let para: string[] = [];
    let list: string[] = [];
    const flush = () => {
      if (para.length > 0) out.push(`<p>${inline(para.join(' '))}</p>`);
      if (list.length > 0) out.push(`<ul>${list.map((item) => `<li>${inline(item)}</li>`).join('')}</ul>`);
      para = [];
      list = [];
    };
    for (const line of block.b.split('\n')) {
      const heading = /^(#{1,4})\s+(.*)$/.exec(line);
      if (heading) {
        flush();
        const level = (heading[1] as string).length;
        const title = heading[2] as string;
        const id = /^[a-z_]+$/.test(title) ? ` id="${title}"` : '';
        out.push(`<h${level}${id}>${inline(title)}</h${level}>`);
      } else if (line.trim() === '') flush();
      else if (/^\s*[-*]\s+/.test(line)) {
        if (para.length > 0) {
          out.push(`<p>${inline(para.join(' '))}</p>`);
          para = [];
        }
        list.push(line.replace(/^\s*[-*]\s+/, ''));
      } else if (list.length > 0) list[list.length - 1] += ` ${line.trim()}`;
      else para.push(line.trim());
    }
    flush();
  }
  return out.join('\n');
}
