/** `carte init [DIR]`: scaffolds a new API — a commented schema, sample data and a README. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { paint, UsageError, type Command } from '../output.js';

const SCHEMA = `# The schema of your API (Carte SPEC §2). Check it with: npx carte check carte.yaml
# Field definitions are JSON Schema (draft 2020-12 subset) plus a few Carte keys:
# references, index, unique, search, transitions, onDelete.
api:
  name: Library
  version: 1                      # the major version in every path: /v1/...

resources:
  # Each key is a collection: plural and spinal-case, it is the URI segment (/v1/authors).
  authors:
    singular: author              # used in errors, Accept-Range and XML elements
    maxRange: 50                  # the most items one request may ask for
    # Who may do what (SPEC §8): public, authenticated, scope:<name>, owner:<field>.
    access: { read: public, write: authenticated }
    required: [name]
    fields:
      name:      { type: string, maxLength: 200, search: true }   # search: in /v1/authors/search?q=
      email:     { type: string, format: email, unique: true }    # unique: a second one is 409
      born:      { type: string, format: date }
      createdAt: { type: string, format: date-time, readOnly: true }   # maintained by Carte

  books:
    singular: book
    access: { read: public, write: authenticated }
    required: [title, authorId]
    fields:
      title:    { type: string, maxLength: 300, search: true }
      # references: a relation "author" (?fields=author(name)) and /v1/authors/{id}/books
      authorId: { type: integer, references: authors, onDelete: cascade }
      genre:    { type: string, enum: [novel, essay, poetry, comics], index: true }
      pages:    { type: integer, minimum: 1 }
      tags:     { type: array, items: { type: string }, default: [] }
      # transitions: a state machine (SPEC §4.8); each state is also an event (books.lent)
      status:   { type: string, enum: [available, lent, lost], default: available,
                  transitions: { available: [lent, lost], lent: [available, lost] } }
      createdAt: { type: string, format: date-time, readOnly: true }
      updatedAt: { type: string, format: date-time, readOnly: true }

# Server settings may live here too (flags and CARTE_* variables override them):
# config:
#   cors: { origins: ["https://app.example.com"] }
#   events: { retentionDays: 7 }
`;

const AUTHORS = `[
  { "id": 1, "name": "Ursula K. Le Guin", "email": "ursula@example.com", "born": "1929-10-21" },
  { "id": 2, "name": "Italo Calvino", "email": "italo@example.com", "born": "1923-10-15" },
  { "id": 3, "name": "Wisława Szymborska", "born": "1923-07-02" }
]
`;

const BOOKS = `id,title,authorId,genre,pages,tags,status
1,The Dispossessed,1,novel,387,"[""utopia"",""physics""]",available
2,The Left Hand of Darkness,1,novel,304,"[""winter""]",lent
3,Invisible Cities,2,novel,165,"[""cities""]",available
4,Six Memos for the Next Millennium,2,essay,124,,available
5,View with a Grain of Sand,3,poetry,224,,available
`;

const README = (dir: string) => `# Library API

Made with [Carte](https://github.com/) — one schema (\`carte.yaml\`), a complete API.

\`\`\`sh
npx carte check carte.yaml                      # validate the schema
npx carte import authors data/authors.json      # load the sample data
npx carte import books data/books.csv
npx carte serve carte.yaml --dev                # API on http://127.0.0.1:3000/v1, docs on /docs
\`\`\`

Then:

\`\`\`sh
curl -s 'http://127.0.0.1:3000/v1/books?genre=novel&fields=title,author(name)'
curl -s 'http://127.0.0.1:3000/v1/authors/1/books'
curl -s -X POST http://127.0.0.1:3000/v1/books -H "Authorization: Bearer $TOKEN" \\
  -H 'Content-Type: application/json' -d '{"title":"Lathe of Heaven","authorId":1,"genre":"novel"}'
\`\`\`

\`$TOKEN\` is the development token \`carte serve --dev\` prints. Change the schema, then
\`npx carte migrate carte.yaml\` shows what the database needs (\`--apply\` to do it).
${dir === '.' ? '' : `\n(Created with \`carte init ${dir}\`.)\n`}`;

export const initCommand: Command = {
  name: 'init',
  summary: 'scaffold a new API: a commented schema, sample data and a README',
  usage: `carte init [DIR] [--force]

  Writes DIR/carte.yaml (a commented starter schema), DIR/data/ (sample items to import)
  and DIR/README.md, then prints the next commands. DIR defaults to the current directory
  and is created when missing. Existing files are left alone unless --force.`,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { force: { type: 'boolean' } } });
    if (positionals.length > 1) throw new UsageError('usage: carte init [DIR] [--force]');
    const dir = positionals[0] ?? '.';
    const files: [string, string][] = [
      ['carte.yaml', SCHEMA],
      [path.join('data', 'authors.json'), AUTHORS],
      [path.join('data', 'books.csv'), BOOKS],
      ['README.md', README(dir)],
    ];
    const existing = files.map(([name]) => path.join(dir, name)).filter((f) => existsSync(f));
    if (existing.length > 0 && values.force !== true) {
      process.stderr.write(`${paint.red(`carte init: ${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; nothing written (--force overwrites)`)}\n`);
      return 1;
    }
    mkdirSync(path.join(dir, 'data'), { recursive: true });
    for (const [name, text] of files) writeFileSync(path.join(dir, name), text);
    const cd = dir === '.' ? '' : `  cd ${dir}\n`;
    process.stdout.write(
      `${paint.green('✓')} created ${files.map(([name]) => path.join(dir, name)).join(', ')}\n\nNext:\n${cd}` +
        '  npx carte check carte.yaml\n  npx carte import authors data/authors.json\n  npx carte import books data/books.csv\n  npx carte serve carte.yaml --dev\n',
    );
    return 0;
  },
};
