/** A progress bar for long commands, drawn only when stdout is a terminal (SPEC §1). */

export interface Progress {
  /** Redraws (at most ten times a second) with the bytes read and the rows handled. */
  update(done: number, total: number, rows: number): void;
  /** Clears the bar. */
  end(): void;
}

const NONE: Progress = { update: () => undefined, end: () => undefined };

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stdout): Progress {
  if (stream.isTTY !== true) return NONE;
  const started = Date.now();
  let last = 0;
  let drawn = false;
  return {
    update(done, total, rows) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - 60));
      const ratio = total > 0 ? Math.min(1, done / total) : 0;
      const filled = Math.round(ratio * width);
      const rate = rows / Math.max(0.001, (now - started) / 1000);
      const line = `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}%  ${rows.toLocaleString('en-US')} rows  ${Math.round(rate).toLocaleString('en-US')} rows/s`;
      stream.write(`\r\x1b[2K${line}`);
      drawn = true;
    },
    end() {
      if (drawn) stream.write('\r\x1b[2K');
    },
  };
}
