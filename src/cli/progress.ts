import { Presets, SingleBar } from "cli-progress";

export interface Counts {
  total: number;
  decrypted: number;
  upToDate: number;
  failed: number;
}

export interface Progress {
  update(counts: Counts): void;
  stop(): void;
}

/**
 * A progress bar with counts and ETA on a terminal; on a pipe or a log file, a plain line every
 * `every` objects and at the end, so CI logs and `| tee` stay readable.
 */
export function createProgress(
  out: NodeJS.WritableStream & { isTTY?: boolean },
  options: { every?: number; verb?: string } = {},
): Progress {
  const every = options.every ?? 100;
  const verb = options.verb ?? "sent";
  const format = (c: Counts) => `${c.decrypted} ${verb}, ${c.upToDate} up to date, ${c.failed} failed`;
  if (out.isTTY === true) {
    const bar = new SingleBar(
      {
        format: "reprocess |{bar}| {value}/{total} objects | {counts} | ETA {eta_formatted}",
        stream: out as NodeJS.WriteStream,
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    let started = false;
    return {
      update(c) {
        const done = c.decrypted + c.upToDate + c.failed;
        if (!started) {
          bar.start(c.total, done, { counts: format(c) });
          started = true;
        } else bar.update(done, { counts: format(c) });
      },
      stop: () => bar.stop(),
    };
  }
  let last: Counts | undefined;
  let printed = -1;
  const started = Date.now();
  const line = (c: Counts) => {
    const done = c.decrypted + c.upToDate + c.failed;
    const rate = done / Math.max(0.001, (Date.now() - started) / 1000);
    const eta = rate > 0 ? Math.round((c.total - done) / rate) : 0;
    out.write(`reprocess ${done}/${c.total} objects: ${format(c)} (${rate.toFixed(1)}/s, ETA ${eta} s)\n`);
    printed = done;
  };
  return {
    update(c) {
      last = { ...c };
      const done = c.decrypted + c.upToDate + c.failed;
      if (done === c.total || done - printed >= every) line(c);
    },
    stop() {
      if (last !== undefined && last.decrypted + last.upToDate + last.failed !== printed) line(last);
    },
  };
}
