import { Presets, SingleBar } from "cli-progress";

export interface Counts {
  total: number;
  decrypted: number;
  upToDate: number;
  failed: number;
}

/** What reprocessing reports its counts to. */
export interface Progress {
  update(counts: Counts): void;
  /** Draws the last counts and ends the line (showing the cursor again); later updates are ignored. */
  stop(): void;
}

/** The progress the command draws on stderr, which other lines can be printed through. */
export interface ProgressDisplay extends Progress {
  /** Prints a line of its own without breaking the bar. */
  note(line: string): void;
}

/** The counts as the progress line and the final summary both say them. */
export function formatCounts(c: Counts, verb: string): string {
  return `${c.decrypted} ${verb}, ${c.upToDate} up to date, ${c.failed} failed`;
}

/** Objects handled so far, whatever their outcome. */
export function doneOf(c: Counts): number {
  return c.decrypted + c.upToDate + c.failed;
}

/**
 * A progress bar with counts and ETA on a terminal; on a pipe or a log file, a plain line every
 * `every` objects and at the end, so CI logs and `| tee` stay readable. Nothing is drawn for an
 * empty listing.
 */
export function createProgress(
  out: NodeJS.WritableStream & { isTTY?: boolean },
  options: { every?: number; verb?: string } = {},
): ProgressDisplay {
  const every = options.every ?? 100;
  const verb = options.verb ?? "sent";
  if (out.isTTY === true) {
    const bar = new SingleBar(
      {
        format: "reprocess |{bar}| {value}/{total} objects | {counts} | ETA {eta_formatted}",
        stream: out as NodeJS.WriteStream,
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    let state: "idle" | "drawing" | "stopped" = "idle";
    return {
      update(c) {
        if (state === "stopped" || c.total === 0) return;
        if (state === "idle") {
          bar.start(c.total, doneOf(c), { counts: formatCounts(c, verb) });
          state = "drawing";
        } else bar.update(doneOf(c), { counts: formatCounts(c, verb) });
      },
      // The bar redraws itself on its next tick, below the line.
      note: (line) => out.write(state === "drawing" ? `\r\x1b[2K${line}\n` : `${line}\n`),
      stop() {
        if (state === "drawing") bar.stop();
        state = "stopped";
      },
    };
  }
  let last: Counts | undefined;
  let printed = -1;
  let stopped = false;
  const started = Date.now();
  const line = (c: Counts) => {
    const done = doneOf(c);
    const rate = done / Math.max(0.001, (Date.now() - started) / 1000);
    const eta = rate > 0 ? Math.round((c.total - done) / rate) : 0;
    out.write(
      `reprocess ${done}/${c.total} objects: ${formatCounts(c, verb)} (${rate.toFixed(1)}/s, ETA ${eta} s)\n`,
    );
    printed = done;
  };
  return {
    update(c) {
      if (stopped || c.total === 0) return;
      last = { ...c };
      const done = doneOf(c);
      if (done === c.total || done - printed >= every) line(c);
    },
    note: (text) => out.write(`${text}\n`),
    stop() {
      if (!stopped && last !== undefined && doneOf(last) !== printed) line(last);
      stopped = true;
    },
  };
}
