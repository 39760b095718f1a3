/** Terminal output for the CLI: colours only on a TTY (and never with NO_COLOR). */
const useColour = (stream: NodeJS.WriteStream) => stream.isTTY === true && !process.env.NO_COLOR;

export const paint = {
  red: (s: string, stream: NodeJS.WriteStream = process.stderr) => (useColour(stream) ? `\x1b[31m${s}\x1b[0m` : s),
  green: (s: string, stream: NodeJS.WriteStream = process.stdout) => (useColour(stream) ? `\x1b[32m${s}\x1b[0m` : s),
  bold: (s: string, stream: NodeJS.WriteStream = process.stdout) => (useColour(stream) ? `\x1b[1m${s}\x1b[0m` : s),
  dim: (s: string, stream: NodeJS.WriteStream = process.stdout) => (useColour(stream) ? `\x1b[2m${s}\x1b[0m` : s),
};

/** A command failed in a way the user can fix: message to stderr, non-zero exit. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(args: string[]): Promise<number>;
}
