/**
 * Athena partition projection of type `date`, as the Glue table declares it, reproduced so a local
 * engine reads exactly the objects Athena would, with the same partition value.
 */

/** The `datehour` projection, resolved to plain values. */
export interface DateProjection {
  /** Partition column name (the `${name}` in the location template). */
  readonly column: string;
  readonly bucket: string;
  /** Key prefix before the partition value, e.g. `decrypted/raw/`. */
  readonly keyPrefix: string;
  /** Key text right after the partition value, e.g. `/`. */
  readonly keySuffix: string;
  /** Java date format of the value, e.g. `yyyy/MM/dd/HH`. */
  readonly format: string;
  /** First value of the range, in `format`. */
  readonly rangeStart: string;
  /** Last value of the range, in `format`; `NOW` means the current time. */
  readonly rangeEnd: string;
}

/**
 * Builds the projection of `column` from resolved table parameters (`projection.<column>.*` and
 * `storage.location.template`).
 * @throws Error when the projection is not an hourly `date` projection or the template lacks the column.
 */
export function dateProjection(parameters: Readonly<Record<string, string>>, column: string): DateProjection {
  const get = (name: string): string => {
    const value = parameters[name];
    if (value === undefined) throw new Error(`table parameter ${name} is missing`);
    return value;
  };
  if (get("projection.enabled") !== "true") throw new Error("partition projection is not enabled");
  if (get(`projection.${column}.type`) !== "date") throw new Error(`projection of ${column} is not a date`);
  if (get(`projection.${column}.interval`) !== "1" || get(`projection.${column}.interval.unit`) !== "HOURS") {
    throw new Error(`projection of ${column} must step one hour at a time`);
  }
  const template = /^s3:\/\/([^/]+)\/(.*)$/.exec(get("storage.location.template"));
  const marker = `\${${column}}`;
  if (template === null || !(template[2] ?? "").includes(marker)) {
    throw new Error(`storage.location.template must be s3://bucket/…${marker}…`);
  }
  const [keyPrefix = "", keySuffix = ""] = (template[2] ?? "").split(marker);
  const [rangeStart = "", rangeEnd = ""] = get(`projection.${column}.range`).split(",");
  const format = get(`projection.${column}.format`);
  valuePattern(format);
  return { column, bucket: template[1] ?? "", keyPrefix, keySuffix, format, rangeStart, rangeEnd };
}

/**
 * A regular expression source matching one value of a Java date `format` made of `yyyy`, `MM`, `dd`,
 * `HH` and literal separators (the Firehose layout).
 * @throws Error on any other format letter.
 */
export function valuePattern(format: string): string {
  return format.replace(/yyyy|MM|dd|HH|[A-Za-z]+|[^A-Za-z]/g, (token) => {
    if (token === "yyyy") return "\\d{4}";
    if (token === "MM" || token === "dd" || token === "HH") return "\\d{2}";
    if (/[A-Za-z]/.test(token)) throw new Error(`date format token ${token} is not supported`);
    return escapeRegExp(token);
  });
}

/** `date` (UTC) written in a format of `yyyy`, `MM`, `dd`, `HH`. */
export function formatDate(date: Date, format: string): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return format
    .replace("yyyy", String(date.getUTCFullYear()))
    .replace("MM", two(date.getUTCMonth() + 1))
    .replace("dd", two(date.getUTCDate()))
    .replace("HH", two(date.getUTCHours()));
}

/**
 * The partition value Athena reads `key` under, or `undefined` when no projected partition covers it:
 * the key must be `keyPrefix` + a value in range + `keySuffix` + an object name (no deeper folders).
 * Values of this fixed-width format compare like the times they name.
 */
export function partitionOf(projection: DateProjection, key: string, now: Date): string | undefined {
  if (!key.startsWith(projection.keyPrefix)) return undefined;
  const rest = key.slice(projection.keyPrefix.length);
  const match = new RegExp(
    `^(${valuePattern(projection.format)})${escapeRegExp(projection.keySuffix)}[^/]+$`,
  ).exec(rest);
  const value = match?.[1];
  if (value === undefined) return undefined;
  const end = projection.rangeEnd === "NOW" ? formatDate(now, projection.format) : projection.rangeEnd;
  return value >= projection.rangeStart && value <= end ? value : undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
