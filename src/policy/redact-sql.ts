import type { EngineName } from "../lines/normalize-event.ts";

/**
 * `REDACT_SQL_LITERALS`: statement text with its values taken out. Every string and numeric
 * literal becomes `?`, read by the lexical rules of the engine that wrote the event, so statements
 * that differ only in their values read the same (a query can group by the text) and no value
 * reaches the output. Keywords, names (quoted ones too), bind parameters (`$1`, `:1`, `:name`,
 * `@p1`), operators and whitespace stay as they were; a MySQL charset introducer stays before its
 * `?` (`_utf8mb4?`), and PostgreSQL's `N'x'` is the keyword `N` and a string, as its lexer reads it.
 *
 * Comments (optimizer hints and MySQL's `/*! … *\/` included, since they can hold literals) become
 * one space each, so the tokens on either side never merge; a line comment's newline stays, and a
 * line comment ends only at `\n`, so a lone `\r` keeps more of it out, never less.
 *
 * It reads tokens, not grammar, and fails closed: an unterminated string, quoted name, comment or
 * dollar quote, a NUL anywhere, a control character or a backslash outside a literal (no engine
 * accepts one there), or a `$` it cannot place turns the whole text into `UNREADABLE_SQL`, never
 * a part of it. Session settings it cannot see are read at their defaults: a backslash escapes in
 * MySQL strings (NO_BACKSLASH_ESCAPES off) and `"…"` is a MySQL string (ANSI_QUOTES off; on, names
 * become `?`); PostgreSQL's standard_conforming_strings is on. Where such a setting differs, the
 * misread quotes end unterminated or put a backslash outside a literal, so the text is refused.
 * SQL Server's `"…"` are names (QUOTED_IDENTIFIER ON); under OFF they are strings, and they stay.
 *
 * Hand-written because no library fits the four engines within about 2 µs per statement (the whole
 * per-event redaction must stay within ~8 µs). Candidates, each installed in a scratch project and
 * timed with `process.hrtime.bigint` on one 146–152-character statement per engine (median of 301
 * rounds of 200 calls after warm-up, Node 20.20 on this 2-core machine, three runs; the range is
 * over runs and engines), and correctness on 13 tricky cases (8 to redact, 5 to refuse):
 * - sql-formatter 15.9.0, its `Tokenizer` (internal, not in the package's exports): 39–79 µs;
 *   11/13: an unterminated `/* …` comes out as operators and names, comment text and all.
 * - sql-formatter 15.9.0 `formatDialect` (public; rewrites whitespace, keeps literals): 520–1070 µs.
 * - sql-highlight 6.1.0 `getSegments`: 31–66 µs; 2/13 (one generic dialect: no `''` doubling, `E''`,
 *   `q''`, dollar quotes, bracket names, nor refusals).
 * - libpg-query 18.1.5, PostgreSQL only: `scanSync` 66–90 µs; `normalizeSync` 9.4–14 µs, but it
 *   numbers constants `$n` after the statement's own parameters, keeps comments with their literals,
 *   and answers an unterminated comment with an error message quoting it.
 * - node-sql-parser 5.4.0 `astify` + `sqlify`: 147–494 µs, no Oracle; sql-parser-cst 0.42.1
 *   `parse`: 290–520 µs (MySQL), no Oracle or SQL Server. Parsers also refuse the non-SQL text
 *   engines write (SQL Server's login messages).
 * - This lexer: 0.68–0.83 µs, 13/13 (0.8–0.9 µs on 122–141 characters holding eight literals).
 * Its PostgreSQL reading is checked against PostgreSQL's own lexer in the tests.
 */
export const UNREADABLE_SQL = "<das-decrypt: statement redacted whole: unreadable>";

/**
 * The text with every string and numeric literal replaced by `?` and each comment by one space,
 * following `engine`'s lexical rules; `UNREADABLE_SQL` when the text cannot be read with
 * confidence (fail closed) or `engine` is unknown. Never throws.
 */
export function redactSqlLiterals(text: string, engine: EngineName | undefined): string {
  if (engine === undefined || text.includes("\0")) return UNREADABLE_SQL;
  return redact(text, DIALECTS[engine]) ?? UNREADABLE_SQL;
}

// What a character starts outside literals and comments.
const FAIL = 0;
const KEEP = 1;
const NAME = 2;
const DIGIT = 3;
const DOT = 4;
const QUOTE = 5;
const DOUBLE_QUOTE = 6;
const BACKTICK = 7;
const BRACKET = 8;
const DOLLAR = 9;
const DASH = 10;
const SLASH = 11;
const HASH = 12;
const COLON = 13;

/**
 * How a `'` literal is read: `''` doubling only, doubling and backslash escapes, up to the first
 * quote (PostgreSQL's `B'…'`, `X'…'`), or Oracle's q-quote.
 */
type StringKind = "plain" | "escaped" | "bare" | "q";

interface Dialect {
  /** The action of each ASCII code; code points from 128 up begin or continue names. */
  readonly actions: Uint8Array;
  /** 1 for the ASCII codes that continue an unquoted name. */
  readonly part: Uint8Array;
  /** The kind of `'…'` without a prefix. */
  readonly quote: StringKind;
  /** Prefix (lower case) → kind of the `'…'` that follows it at once. */
  readonly prefixes: ReadonlyMap<string, StringKind>;
  /** Letters after `0` that start a radix literal (`0x1F`, `0b101`, `0o17`). */
  readonly radixes: string;
  /** PostgreSQL 16's `1_000`. */
  readonly underscores: boolean;
  /** Oracle's `1.5f`, `2d` (BINARY_FLOAT, BINARY_DOUBLE). */
  readonly floatSuffix: boolean;
  /** MySQL: `123abc` and `t.1c` are names; `"…"` is a string with backslash escapes; `--` needs a space after. */
  readonly mysql: boolean;
  /** SQL Server: `0x` alone is a binary literal; `$12.5` and `€12` are money literals. */
  readonly sqlserver: boolean;
  readonly nestedComments: boolean;
  /** PostgreSQL: `'a'` newline `'b'` is one literal. */
  readonly continuedStrings: boolean;
}

function dialect(
  options: Omit<Dialect, "actions" | "part"> & { actions: Record<string, number>; part: string },
): Dialect {
  const actions = new Uint8Array(128);
  for (let c = 33; c < 127; c += 1) actions[c] = KEEP; // punctuation and operators
  for (const c of " \t\n\v\f\r") actions[c.charCodeAt(0)] = KEEP;
  for (let c = 65; c <= 90; c += 1) actions[c] = actions[c + 32] = NAME;
  for (let c = 48; c <= 57; c += 1) actions[c] = DIGIT;
  const common = { _: NAME, ".": DOT, "'": QUOTE, '"': DOUBLE_QUOTE, "-": DASH, "/": SLASH, "\\": FAIL };
  for (const [c, action] of Object.entries({ ...common, ...options.actions }))
    actions[c.charCodeAt(0)] = action;
  const part = new Uint8Array(128);
  for (let c = 0; c < 128; c += 1) if (actions[c] === NAME || actions[c] === DIGIT) part[c] = 1;
  for (const c of options.part) part[c.charCodeAt(0)] = 1;
  return { ...options, actions, part };
}

const DIALECTS: Readonly<Record<EngineName, Dialect>> = {
  "aurora-postgresql": dialect({
    actions: { $: DOLLAR },
    part: "$",
    quote: "plain",
    prefixes: new Map([
      ["e", "escaped"],
      ["b", "bare"],
      ["x", "bare"],
      ["u&", "plain"],
    ]),
    radixes: "xXoObB",
    underscores: true,
    floatSuffix: false,
    mysql: false,
    sqlserver: false,
    nestedComments: true,
    continuedStrings: true,
  }),
  "aurora-mysql": dialect({
    actions: { $: NAME, "`": BACKTICK, "#": HASH },
    part: "$",
    quote: "escaped",
    prefixes: new Map([
      ["n", "escaped"],
      ["b", "escaped"],
      ["x", "escaped"],
    ]),
    radixes: "xXbB",
    underscores: false,
    floatSuffix: false,
    mysql: true,
    sqlserver: false,
    nestedComments: false,
    continuedStrings: false,
  }),
  oracle: dialect({
    actions: { $: FAIL, "`": FAIL, ":": COLON },
    part: "$#",
    quote: "plain",
    prefixes: new Map([
      ["n", "plain"],
      ["q", "q"],
      ["nq", "q"],
    ]),
    radixes: "",
    underscores: false,
    floatSuffix: true,
    mysql: false,
    sqlserver: false,
    nestedComments: false,
    continuedStrings: false,
  }),
  sqlserver: dialect({
    actions: { $: DOLLAR, "`": FAIL, "[": BRACKET, "#": NAME, "@": NAME },
    part: "$#@",
    quote: "plain",
    prefixes: new Map([["n", "plain"]]),
    radixes: "xX",
    underscores: false,
    floatSuffix: false,
    mysql: false,
    sqlserver: true,
    nestedComments: true,
    continuedStrings: false,
  }),
};

/** The redacted text, or `undefined` when some part of it cannot be read. */
function redact(t: string, d: Dialect): string | undefined {
  const n = t.length;
  let out = "";
  let copied = 0; // t[copied, i) is still to be copied to `out`
  let i = 0;
  while (i < n) {
    const c = t.charCodeAt(i);
    let end = i + 1;
    let replacement: string | undefined; // "?" for a literal, " " for a comment
    switch (c < 128 ? d.actions[c] : NAME) {
      case KEEP:
        i = end;
        continue;
      case NAME: {
        if (c >= 128 && d.sqlserver && startsNumber(t, i + 1) && CURRENCY.test(t[i] as string)) {
          end = scanNumber(t, i + 1, d);
          replacement = "?";
          break;
        }
        end = scanName(t, i + 1, d.part);
        const next = t.charCodeAt(end);
        if (end - i > 2 || (next !== 39 && next !== 38)) break;
        const kind = d.prefixes.get(t.slice(i, next === 38 ? end + 1 : end).toLowerCase());
        if (kind === undefined || (next === 38 && t.charCodeAt(end + 1) !== 39)) break;
        end = scanString(t, next === 38 ? end + 1 : end, kind, d.continuedStrings);
        replacement = "?";
        break;
      }
      case DIGIT:
        end = scanNumber(t, i, d);
        if (d.mysql && isMysqlName(t, i, end, d.part)) end = scanName(t, end, d.part);
        else replacement = "?";
        break;
      case DOT:
        if (t.charCodeAt(i + 1) === 46) end = i + 2; // `..`, as in `1..10`
        if (!isDigit(t.charCodeAt(i + 1))) break;
        // MySQL reads what follows a qualifier's dot as a name, even from a digit: `t.1c`.
        if (d.mysql && i > 0 && (d.part[t.charCodeAt(i - 1)] === 1 || t.charCodeAt(i - 1) === 96)) break;
        end = scanNumber(t, i, d);
        replacement = "?";
        break;
      case QUOTE:
        end = scanString(t, i, d.quote, d.continuedStrings);
        replacement = "?";
        break;
      case DOUBLE_QUOTE:
        end = scanQuoted(t, i, 34, d.mysql);
        if (d.mysql) replacement = "?";
        break;
      case BACKTICK:
        end = scanQuoted(t, i, 96, false);
        break;
      case BRACKET:
        end = scanQuoted(t, i, 93, false);
        break;
      case DOLLAR: {
        const next = t.charCodeAt(i + 1);
        if (d.sqlserver) {
          // Money (`$12.50`) is a literal; `$action`, `$IDENTITY` are names.
          if (startsNumber(t, i + 1)) {
            end = scanNumber(t, i + 1, d);
            replacement = "?";
          } else if (isNameStart(next)) end = scanName(t, i + 1, d.part);
          else return undefined;
        } else if (isDigit(next)) {
          end = scanDigits(t, i + 1, false); // a parameter: `$1`
        } else {
          end = dollarQuoteEnd(t, i);
          replacement = "?";
        }
        break;
      }
      case DASH: {
        if (t.charCodeAt(i + 1) !== 45) break;
        // MySQL: `--` starts a comment only before a space or control character (or the end).
        if (d.mysql && i + 2 < n && t.charCodeAt(i + 2) > 32) break;
        end = lineEnd(t, i);
        replacement = " ";
        break;
      }
      case SLASH:
        if (t.charCodeAt(i + 1) !== 42) break;
        end = d.nestedComments ? nestedCommentEnd(t, i) : blockCommentEnd(t, i);
        replacement = " ";
        break;
      case HASH:
        end = lineEnd(t, i);
        replacement = " ";
        break;
      case COLON:
        if (isDigit(t.charCodeAt(i + 1)) || isNameStart(t.charCodeAt(i + 1)))
          end = scanName(t, i + 1, d.part);
        break;
      default:
        return undefined;
    }
    if (end < 0) return undefined;
    if (replacement !== undefined) {
      out += t.slice(copied, i) + replacement;
      copied = end;
    }
    i = end;
  }
  return copied === 0 ? t : out + t.slice(copied);
}

const CURRENCY = /^\p{Sc}$/u;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** A letter, `_` or any code point from 128 up (`NaN` past the end is none). */
function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 128;
}

function startsNumber(t: string, i: number): boolean {
  return isDigit(t.charCodeAt(i)) || (t.charCodeAt(i) === 46 && isDigit(t.charCodeAt(i + 1)));
}

function scanName(t: string, j: number, part: Uint8Array): number {
  while (j < t.length) {
    const c = t.charCodeAt(j);
    if (c < 128 && part[c] !== 1) break;
    j += 1;
  }
  return j;
}

function scanDigits(t: string, j: number, underscores: boolean): number {
  for (;;) {
    if (isDigit(t.charCodeAt(j))) j += 1;
    else if (
      underscores &&
      t.charCodeAt(j) === 95 &&
      isDigit(t.charCodeAt(j - 1)) &&
      isDigit(t.charCodeAt(j + 1))
    )
      j += 2;
    else return j;
  }
}

/** The end of the number at `i` (a digit, or a `.` before one): `12`, `1.`, `.5`, `1.5e-3`, `0x1F`. */
function scanNumber(t: string, i: number, d: Dialect): number {
  if (t.charCodeAt(i) === 48) {
    const digits = RADIX_DIGITS[t.charCodeAt(i + 1) | 32];
    if (digits !== undefined && d.radixes.includes(t[i + 1] as string)) {
      let j = i + 2;
      while (j < t.length && digits.includes(t[j] as string)) j += 1;
      if (j > i + 2 || d.sqlserver) return j; // SQL Server's `0x` alone is an empty binary
    }
  }
  let j = scanDigits(t, i, d.underscores);
  // `1..10` (a PL/pgSQL or PL/SQL range) leaves the dots to the operator.
  if (t.charCodeAt(j) === 46 && t.charCodeAt(j + 1) !== 46) j = scanDigits(t, j + 1, d.underscores);
  const e = t.charCodeAt(j) | 32;
  if (e === 101) {
    const sign = t.charCodeAt(j + 1) === 43 || t.charCodeAt(j + 1) === 45 ? 1 : 0;
    if (isDigit(t.charCodeAt(j + 1 + sign))) j = scanDigits(t, j + 1 + sign, d.underscores);
  }
  const suffix = t.charCodeAt(j) | 32;
  if (d.floatSuffix && (suffix === 102 || suffix === 100) && d.part[t.charCodeAt(j + 1)] !== 1) j += 1;
  return j;
}

/** Lower-case letter after `0` → the digits of that radix. */
const RADIX_DIGITS: Readonly<Record<number, string>> = {
  120: "0123456789abcdefABCDEF",
  111: "01234567",
  98: "01",
};

/**
 * MySQL names may begin with digits: an integer or radix literal followed at once by a name
 * character is a name (`123abc`, `0x1G`); a decimal or an exponent is not (`1.5e3x` is `1.5e3` `x`).
 */
function isMysqlName(t: string, i: number, end: number, part: Uint8Array): boolean {
  const next = t.charCodeAt(end);
  if (!(next >= 128 || part[next] === 1)) return false;
  const radix = t.charCodeAt(i + 1) | 32;
  if (t.charCodeAt(i) === 48 && (radix === 120 || radix === 98) && end > i + 2) return true;
  for (let j = i; j < end; j += 1) if (!isDigit(t.charCodeAt(j))) return false;
  return true;
}

/** The end of the `'…'` opened at `open` (the quote itself), or -1 if it is never closed. */
function scanString(t: string, open: number, kind: StringKind, continued: boolean): number {
  if (kind === "q") return scanQQuote(t, open);
  let end = scanPart(t, open, kind);
  // PostgreSQL: `'a'` and `'b'` with a newline between are one literal, the second part read like the first.
  while (continued && end > 0) {
    let j = end;
    let newline = false;
    for (let c = t.charCodeAt(j); c === 32 || (c >= 9 && c <= 13); c = t.charCodeAt(++j))
      newline ||= c === 10 || c === 13;
    if (!newline || t.charCodeAt(j) !== 39) break;
    end = scanPart(t, j, kind);
  }
  return end;
}

function scanPart(t: string, open: number, kind: StringKind): number {
  if (kind !== "bare") return scanQuoted(t, open, 39, kind === "escaped");
  const k = t.indexOf("'", open + 1);
  return k < 0 ? -1 : k + 1;
}

/** The end of a literal or quoted name opened at `open`, closed by `close` (doubled inside), or -1. */
function scanQuoted(t: string, open: number, close: number, backslash: boolean): number {
  if (!backslash) {
    const quote = String.fromCharCode(close);
    let j = open + 1;
    for (;;) {
      const k = t.indexOf(quote, j);
      if (k < 0) return -1;
      if (t.charCodeAt(k + 1) !== close) return k + 1;
      j = k + 2;
    }
  }
  for (let j = open + 1; j < t.length; j += 1) {
    const c = t.charCodeAt(j);
    if (c === 92) j += 1;
    else if (c === close) {
      if (t.charCodeAt(j + 1) !== close) return j + 1;
      j += 1;
    }
  }
  return -1;
}

const Q_CLOSERS: Readonly<Record<string, string>> = { "[": "]", "{": "}", "(": ")", "<": ">" };

/** Oracle's `q'X…X'`: any delimiter but whitespace, with `[]`, `{}`, `()`, `<>` in pairs. */
function scanQQuote(t: string, open: number): number {
  const delimiter = t[open + 1];
  if (delimiter === undefined || " \t\n\r\v\f'".includes(delimiter)) return -1;
  const code = delimiter.charCodeAt(0);
  if (code >= 0xd800 && code <= 0xdfff) return -1;
  const k = t.indexOf(`${Q_CLOSERS[delimiter] ?? delimiter}'`, open + 2);
  return k < 0 ? -1 : k + 2;
}

/** PostgreSQL's dollar quote `$$…$$` / `$tag$…$tag$` at `i`; -1 if unterminated or not one. */
function dollarQuoteEnd(t: string, i: number): number {
  let j = i + 1;
  while (j < t.length && t.charCodeAt(j) !== 36) {
    const c = t.charCodeAt(j);
    if (!(isNameStart(c) || (j > i + 1 && isDigit(c)))) return -1;
    j += 1;
  }
  if (j >= t.length) return -1;
  const tag = t.slice(i, j + 1);
  const k = t.indexOf(tag, j + 1);
  return k < 0 ? -1 : k + tag.length;
}

function lineEnd(t: string, i: number): number {
  const k = t.indexOf("\n", i);
  return k < 0 ? t.length : k;
}

function blockCommentEnd(t: string, open: number): number {
  const k = t.indexOf("*/", open + 2);
  return k < 0 ? -1 : k + 2;
}

/** PostgreSQL and SQL Server nest block comments: `/* a /* b *\/ c *\/` is one. */
function nestedCommentEnd(t: string, open: number): number {
  let depth = 1;
  let j = open + 2;
  while (j < t.length) {
    const c = t.charCodeAt(j);
    if (c === 47 && t.charCodeAt(j + 1) === 42) {
      depth += 1;
      j += 2;
    } else if (c === 42 && t.charCodeAt(j + 1) === 47) {
      depth -= 1;
      j += 2;
      if (depth === 0) return j;
    } else j += 1;
  }
  return -1;
}
