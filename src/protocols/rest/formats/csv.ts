/**
 * `text/csv` for collections and search results (SPEC §4.2, RFC 4180): a header row, one
 * row per item, CRLF line ends, fields quoted when they hold a comma, a quote or a line
 * break. Nested values (objects, arrays, embedded relations) are JSON text in their cell;
 * null is an empty cell. Values are written as they are stored — a spreadsheet that runs
 * formulas should be opened with "import as text" (cells are never rewritten here).
 */

export const CSV_TYPE = 'text/csv; charset=utf-8; header=present';

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The rows as CSV. Columns: `columns` first (the item's fields, so an empty page still has
 * its header), then any other member found in the rows, in the order first seen.
 */
export function toCsv(rows: readonly Record<string, unknown>[], columns: readonly string[] = []): string {
  const names: string[] = [];
  const seen = new Set<string>();
  const add = (name: string) => {
    if (!seen.has(name)) {
      seen.add(name);
      names.push(name);
    }
  };
  // With rows, their members decide (a `fields` selection narrows them); without, the declared columns.
  if (rows.length === 0) columns.forEach(add);
  for (const row of rows) Object.keys(row).forEach(add);
  const lines = [names.map(cell).join(',')];
  for (const row of rows) lines.push(names.map((n) => cell(row[n])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
