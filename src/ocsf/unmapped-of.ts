/**
 * `unmapped` as a map of strings: OCSF types it as an open object; Parquet needs one column type,
 * and Amazon Security Lake's own tables hold it as `map<string,string>`. A string stays as RDS wrote
 * it; any other value (a number, a boolean, `engineNativeAuditFields`, `paramList`) becomes its JSON
 * text, so nothing is lost and a reader can parse it back.
 */
export type Unmapped = Record<string, string>;

/**
 * The event's members the row does not hold elsewhere (`used`), null ones left out, plus the whole
 * text of the members that were cut to fit an OCSF string (`cut`). `undefined` when nothing is left.
 */
export function unmappedOf(
  event: Readonly<Record<string, unknown>>,
  used: ReadonlySet<string>,
  cut: ReadonlySet<string>,
  /** The string a value is kept as (one shared copy of a repeated value). */
  keep: (text: string) => string = (text) => text,
): Unmapped | undefined {
  let unmapped: Unmapped | undefined;
  for (const key in event) {
    const value = event[key];
    if ((used.has(key) && !cut.has(key)) || value === null || value === undefined) continue;
    unmapped ??= {};
    unmapped[key] = keep(typeof value === "string" ? value : JSON.stringify(value));
  }
  return unmapped;
}
