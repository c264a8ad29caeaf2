import { loadModule, scanSync } from "libpg-query";
import { beforeAll, describe, expect, test } from "vitest";
import type { EngineName } from "../../../src/lines/normalize-event.ts";
import { buildEvents, seededRandom } from "../../../src/local/das-events.ts";
import { redactSqlLiterals, UNREADABLE_SQL } from "../../../src/policy/redact-sql.ts";
import { PLANTED_STATEMENTS, PLANTED_VALUES, randomStatement } from "../../support/sql-samples.ts";

const ENGINES: readonly EngineName[] = ["aurora-postgresql", "aurora-mysql", "oracle", "sqlserver"];

describe("each engine's literals become ? and its comments one space, and nothing else changes", () => {
  test.each([
    ["'' doubling", "SELECT 'O''Brien' FROM t", "SELECT ? FROM t"],
    [
      "a backslash is a character ('…' follows standard_conforming_strings)",
      "SELECT 'C:\\' FROM t",
      "SELECT ? FROM t",
    ],
    ["E'…' with backslash escapes", "SELECT E'it\\'s', e'a\\\\', E'x''y' FROM t", "SELECT ?, ?, ? FROM t"],
    [
      "U&'…', B'…', X'…'",
      "SELECT U&'d\\0061t' UESCAPE '!', B'101', X'1F', u&'x'",
      "SELECT ? UESCAPE ?, ?, ?, ?",
    ],
    ["N'…' is the keyword N and a string, as PostgreSQL's lexer reads it", "SELECT N'x'", "SELECT N?"],
    [
      "dollar quotes, with and without a tag",
      "SELECT $$a'b$$, $q$x $$ y$q$, $tag_1$z$tag_1$",
      "SELECT ?, ?, ?",
    ],
    [
      "$1 parameters stay",
      "SELECT * FROM t1 WHERE a = $1 AND b = $12",
      "SELECT * FROM t1 WHERE a = $1 AND b = $12",
    ],
    ["$ inside names is part of them", "SELECT a$b, x$$y$$ FROM t", "SELECT a$b, x$$y$$ FROM t"],
    ['"quoted names" stay', 'SELECT "Col ""1""", U&"x" FROM "T"', 'SELECT "Col ""1""", U&"x" FROM "T"'],
    ["numbers in every form", "SELECT 1, 1.5, .5, 1., 1e5, 1.5E-3, 2e+7", "SELECT ?, ?, ?, ?, ?, ?, ?"],
    [
      "PostgreSQL 16 radix and underscore numbers",
      "SELECT 0x1F, 0o17, 0b101, 1_000_000",
      "SELECT ?, ?, ?, ?",
    ],
    ["digits inside names stay", "SELECT t1.col_2 FROM t1", "SELECT t1.col_2 FROM t1"],
    ["a number then a name (trailing junk before PG 15)", "SELECT 1e, 123abc", "SELECT ?e, ?abc"],
    ["a range keeps both dots", "FOR i IN 1..10 LOOP", "FOR i IN ?..? LOOP"],
    ["array slices, casts, signs", "SELECT a[1:2]::int, -3 FROM t", "SELECT a[?:?]::int, -? FROM t"],
    ["nested block comments", "SELECT 1 /* a /* b */ c */ FROM t", "SELECT ?   FROM t"],
    ["line comments end at the newline", "SELECT 1 -- x 'y'\nFROM t --z", "SELECT ?  \nFROM t  "],
    [
      "strings with a newline between are one literal, read like the first",
      "SELECT 'a'\n'b', E'c'\n  'd\\'e', B'01'\n'10', 'f' 'g'",
      "SELECT ?, ?, ?, ? ?",
    ],
    ["-- inside an operator starts a comment", "SELECT a+--b\n1", "SELECT a+ \n?"],
    ["no literal: the same text", "SELECT id FROM t", "SELECT id FROM t"],
    ["empty text", "", ""],
  ])("aurora-postgresql: %s", (_name, input, expected) => {
    expect(redactSqlLiterals(input, "aurora-postgresql")).toBe(expected);
  });

  test.each([
    ["backslash escapes in '…'", "SELECT 'it\\'s', 'a\\\\', 'x''y'", "SELECT ?, ?, ?"],
    [
      '"…" is a string, with escapes and doubling',
      'SELECT "a", "it\\"s", "x""y", "it\'s"',
      "SELECT ?, ?, ?, ?",
    ],
    [
      "charset introducers stay before the ?",
      "SELECT _utf8mb4'x', _latin1 'y', _binary 0x01",
      "SELECT _utf8mb4?, _latin1 ?, _binary ?",
    ],
    [
      "N'…', X'…', b'…', 0x…, 0b…",
      "SELECT N'x', X'1f', x'AB', b'01', B'1', 0x1F, 0b101",
      "SELECT ?, ?, ?, ?, ?, ?, ?",
    ],
    ["`backtick names` stay", "SELECT `a``b`, `t 1`.c FROM `db`.`t`", "SELECT `a``b`, `t 1`.c FROM `db`.`t`"],
    [
      "names may begin with digits",
      "SELECT 123abc, 0x1G, 0xG, t.1c FROM 2fa",
      "SELECT 123abc, 0x1G, 0xG, t.1c FROM 2fa",
    ],
    ["a decimal or exponent before letters is a number", "SELECT 1e5x, 1.5y", "SELECT ?x, ?y"],
    ["# comments", "SELECT 1 # 'x'\nFROM t", "SELECT ?  \nFROM t"],
    [
      "-- needs a space or control character after it",
      "SELECT 1--2, 3-- x\n, 4--\t5\n, 6--",
      "SELECT ?--?, ? \n, ? \n, ? ",
    ],
    ["block, executable and hint comments go", "SELECT /*!40101 'x' */ /*+ BKA(t) */ 1", "SELECT     ?"],
    ["block comments do not nest", "SELECT /* a /* b */ 1", "SELECT   ?"],
    ["variables and placeholders stay", "SET @v1 = 5, @@session.x = ?", "SET @v1 = ?, @@session.x = ?"],
    ["quoted user and host are literals", "CREATE USER 'bob'@'10.0.0.9'", "CREATE USER ?@?"],
  ])("aurora-mysql: %s", (_name, input, expected) => {
    expect(redactSqlLiterals(input, "aurora-mysql")).toBe(expected);
  });

  test.each([
    ["'' doubling, a backslash is a character", "SELECT 'O''B', 'C:\\' FROM dual", "SELECT ?, ? FROM dual"],
    [
      "q-quotes with each delimiter pair and any other",
      "SELECT q'[a'b]', q'{x}', q'(y)', q'<z>', q'!w!', Q'#v#', q'[]]' FROM dual",
      "SELECT ?, ?, ?, ?, ?, ?, ? FROM dual",
    ],
    ["nq'…' and N'…'", "SELECT nq'[a]', NQ'|b|', N'c', n'd' FROM dual", "SELECT ?, ?, ?, ? FROM dual"],
    ['"quoted names" stay', 'SELECT "T1"."Col" FROM "T1"', 'SELECT "T1"."Col" FROM "T1"'],
    [
      "binds stay",
      "SELECT * FROM t WHERE a = :1 AND b = :name AND c = :b_2",
      "SELECT * FROM t WHERE a = :1 AND b = :name AND c = :b_2",
    ],
    [
      "assignment and ranges",
      "BEGIN x := 5; FOR i IN 1..3 LOOP NULL; END LOOP; END;",
      "BEGIN x := ?; FOR i IN ?..? LOOP NULL; END LOOP; END;",
    ],
    [
      "BINARY_FLOAT and BINARY_DOUBLE suffixes",
      "SELECT 1.5f, 2D, 3e2d, 10dx FROM dual",
      "SELECT ?, ?, ?, ?dx FROM dual",
    ],
    ["names with $ and #, database links", "SELECT x$y, a#1 FROM t@link1", "SELECT x$y, a#1 FROM t@link1"],
    ["optimizer hints are comments", "SELECT /*+ INDEX(t 'x') */ 1 FROM t", "SELECT   ? FROM t"],
    ["block comments do not nest", "SELECT /* a /* b */ 1 FROM dual", "SELECT   ? FROM dual"],
  ])("oracle: %s", (_name, input, expected) => {
    expect(redactSqlLiterals(input, "oracle")).toBe(expected);
  });

  test.each([
    ["'' doubling, a backslash is a character", "SELECT 'O''B', 'C:\\' FROM t", "SELECT ?, ? FROM t"],
    ["N'…'", "SELECT N'x', n'y'", "SELECT ?, ?"],
    [
      '[bracket] and "quoted" names stay',
      'SELECT [a]]b], "c" FROM [dbo].[t 1]',
      'SELECT [a]]b], "c" FROM [dbo].[t 1]',
    ],
    [
      "variables and temporary tables stay",
      "SELECT @p1, @@ROWCOUNT FROM #t1 JOIN ##g ON 1 = 1",
      "SELECT @p1, @@ROWCOUNT FROM #t1 JOIN ##g ON ? = ?",
    ],
    ["binary literals, the empty one too", "SELECT 0x1F, 0x, 0xabc", "SELECT ?, ?, ?"],
    [
      "money literals; $names stay",
      "SELECT $12.50, $.5, €3, £4.2, $action FROM t",
      "SELECT ?, ?, ?, ?, $action FROM t",
    ],
    ["nested block comments", "SELECT 1 /* a /* b */ c */ FROM t", "SELECT ?   FROM t"],
    [
      "a failed login message",
      "Login failed for user 'bob'. Reason: Password did not match that for the login provided. [CLIENT: 10.0.0.9]",
      "Login failed for user ?. Reason: Password did not match that for the login provided. [CLIENT: 10.0.0.9]",
    ],
    [
      "a Windows login message",
      "Login succeeded for user 'CORP\\ann'. Connection made using Windows authentication. [CLIENT: <local machine>]",
      "Login succeeded for user ?. Connection made using Windows authentication. [CLIENT: <local machine>]",
    ],
  ])("sqlserver: %s", (_name, input, expected) => {
    expect(redactSqlLiterals(input, "sqlserver")).toBe(expected);
  });
});

describe("planted personal data never survives", () => {
  test.each(
    ENGINES.flatMap((engine) =>
      PLANTED_STATEMENTS[engine].map((text, index) => [engine, index, text] as const),
    ),
  )("%s statement %i", (engine, _index, text) => {
    const redacted = redactSqlLiterals(text, engine);
    expect(redacted).not.toBe(UNREADABLE_SQL);
    for (const value of PLANTED_VALUES) expect(redacted).not.toContain(value);
  });
});

describe("statements that differ only in their literals redact to the same text", () => {
  const SHAPES: readonly (readonly [EngineName, (s: string, n: string) => string, string[], string[]])[] = [
    [
      "aurora-postgresql",
      (s, n) => `SELECT * FROM orders /* by ${n} */ WHERE customer = ${s} AND total > ${n} AND id = $1`,
      ["'ann'", "E'bob\\'s'", "$$x$$", "$t$O'Brien$t$", "'O''Brien'", "U&'\\0041'"],
      ["12", "1.5e3", ".5", "7.", "0x1F"],
    ],
    [
      "aurora-mysql",
      (s, n) => `SELECT * FROM \`orders\` WHERE customer = ${s} AND total > ${n} # ${s}\n`,
      ["'ann'", '"bob"', "'it\\'s'", '"O""Brien"', "N'x'", "X'41'"],
      ["12", "1.5e3", ".5", "0x1F", "b'1'"],
    ],
    [
      "oracle",
      (s, n) =>
        `SELECT /*+ FULL(o) ${s} */ * FROM orders o WHERE customer = ${s} AND total > ${n} AND id = :1`,
      ["'ann'", "q'[bob]'", "Q'{it's}'", "nq'!x!'", "N'O''Brien'"],
      ["12", "1.5e3", ".5", "2.5f", "7D"],
    ],
    [
      "sqlserver",
      (s, n) => `SELECT * FROM [orders] WHERE customer = ${s} AND total > ${n} AND id = @p1 -- ${n}`,
      ["'ann'", "N'bob'", "'O''Brien'", "0x41"],
      ["12", "1.5e3", ".5", "$7.50", "0xFF"],
    ],
  ];
  test.each(SHAPES)("%s", (engine, shape, strings, numbers) => {
    const texts = new Set(strings.flatMap((s) => numbers.map((n) => redactSqlLiterals(shape(s, n), engine))));
    expect([...texts]).toHaveLength(1);
    expect([...texts][0]).not.toBe(UNREADABLE_SQL);
    expect([...texts][0]).not.toContain("ann");
  });
});

describe("text that cannot be read is redacted whole (fail closed)", () => {
  test.each([
    ["aurora-postgresql", "SELECT 'ann@example.com"],
    ["aurora-postgresql", "SELECT E'it\\'s"],
    ["aurora-postgresql", "SELECT $$ann@example.com"],
    ["aurora-postgresql", "SELECT $q$ann@example.com$q"],
    ["aurora-postgresql", "SELECT $a b$ FROM t"],
    ["aurora-postgresql", "SELECT $"],
    ["aurora-postgresql", 'SELECT "ann@example.com'],
    ["aurora-postgresql", "SELECT 1 /* a /* b */ ann@example.com"],
    ["aurora-postgresql", "SELECT 'it\\'s', 'ann@example.com\\'"],
    ["aurora-postgresql", "SELECT 1 \\ 'x'"],
    ["aurora-postgresql", "SELECT U&'x"],
    ["aurora-mysql", "SELECT 'it\\'s"],
    ["aurora-mysql", 'SELECT "ann@example.com'],
    ["aurora-mysql", "SELECT 'ann@example.com\\'"],
    ["aurora-mysql", "SELECT `ann@example.com"],
    ["aurora-mysql", "SELECT 1 /* ann@example.com"],
    ["aurora-mysql", "SELECT \\N"],
    ["oracle", "SELECT q'[ann@example.com' FROM t"],
    ["oracle", "SELECT q'[ann@example.com]"],
    ["oracle", "SELECT q' ann@example.com ' FROM t"],
    ["oracle", "SELECT q'"],
    ["oracle", "SELECT 'ann@example.com"],
    ["oracle", 'SELECT "ann@example.com'],
    ["oracle", "SELECT $x FROM t"],
    ["oracle", "SELECT `x` FROM t"],
    ["oracle", "SELECT 1 /* ann@example.com"],
    ["sqlserver", "Login failed for user 'bob'. Reason: user's password [CLIENT: 10.0.0.9]"],
    ["sqlserver", "SELECT [ann@example.com FROM t"],
    ["sqlserver", "SELECT N'ann@example.com"],
    ["sqlserver", "SELECT 1 /* a /* b */ ann@example.com"],
    ["sqlserver", "SELECT $ 5"],
    ["sqlserver", "SELECT `x`"],
    ...ENGINES.flatMap((engine) => [
      [engine, "SELECT 'ann@example.com'\0"] as const,
      [engine, "SELECT 'ann\0@example.com'"] as const,
      [engine, "SELECT 1\u0001, 'x'"] as const,
      [engine, "SELECT\u007f1"] as const,
    ]),
  ] as const)("%s: %j", (engine, text) => {
    expect(redactSqlLiterals(text, engine)).toBe(UNREADABLE_SQL);
  });

  test("an unknown engine", () => {
    expect(redactSqlLiterals("SELECT 1", undefined)).toBe(UNREADABLE_SQL);
  });
});

describe("what the local event generator writes in commandText", () => {
  test.each(ENGINES)("%s: readable, and no quoted text is left", (engine) => {
    const random = seededRandom(11);
    let statements = 0;
    for (let sequence = 0; sequence < 300; sequence += 1) {
      for (const event of buildEvents(engine, 2, { random, timeMs: 0, sequence })) {
        if (typeof event.commandText !== "string" || event.commandText === "") continue;
        const redacted = redactSqlLiterals(event.commandText, engine);
        expect(redacted).not.toBe(UNREADABLE_SQL);
        expect(redacted).not.toContain("'");
        statements += 1;
      }
    }
    expect(statements).toBeGreaterThan(100);
  });
});

describe("random statements: the expected text exactly, and no literal or comment content", () => {
  test.each(ENGINES.map((engine, index) => [engine, index] as const))("%s", (engine, index) => {
    const random = seededRandom(20_261_201 + index);
    for (let n = 0; n < 500; n += 1) {
      const sample = randomStatement(engine, random);
      const redacted = redactSqlLiterals(sample.text, engine);
      expect({ statement: sample.text, redacted }).toEqual({
        statement: sample.text,
        redacted: sample.expected,
      });
      for (const secret of sample.secrets) expect(redacted).not.toContain(secret);
    }
  });
});

/**
 * PostgreSQL's own lexer (scan.l, from libpg-query's wasm build) marks the same literals and
 * comments: its tokens rebuild the text we expect, and what it cannot scan we refuse too.
 */
describe("aurora-postgresql agrees with PostgreSQL's lexer", () => {
  beforeAll(() => loadModule());

  const LITERAL_TOKENS = new Set(["SCONST", "ICONST", "FCONST", "USCONST", "BCONST", "XCONST"]);
  const QUESTION_MARK = Buffer.from("?");
  const SPACE = Buffer.from(" ");
  const TOKEN_NAMES: Readonly<Record<number, string>> = {
    260: "FCONST",
    262: "USCONST",
    263: "BCONST",
    264: "XCONST",
  };

  /** The text with the lexer's literals as `?` and its comments as a space; `undefined` when it refuses the text. */
  function redactedByPostgres(text: string): string | undefined {
    let tokens: ReturnType<typeof scanSync>["tokens"];
    try {
      tokens = scanSync(text).tokens;
    } catch {
      return undefined;
    }
    // Its offsets count UTF-8 bytes.
    const bytes = Buffer.from(text, "utf8");
    const parts: Buffer[] = [];
    let at = 0;
    for (const token of tokens) {
      const name = TOKEN_NAMES[token.tokenType] ?? token.tokenName;
      parts.push(bytes.subarray(at, token.start));
      if (LITERAL_TOKENS.has(name)) parts.push(QUESTION_MARK);
      else if (name === "SQL_COMMENT" || name === "C_COMMENT") parts.push(SPACE);
      else parts.push(bytes.subarray(token.start, token.end));
      at = token.end;
    }
    parts.push(bytes.subarray(at));
    return Buffer.concat(parts).toString("utf8");
  }

  test("on 2,000 random statements", () => {
    const random = seededRandom(5432);
    for (let n = 0; n < 2000; n += 1) {
      const { text } = randomStatement("aurora-postgresql", random);
      expect({ text, redacted: redactSqlLiterals(text, "aurora-postgresql") }).toEqual({
        text,
        redacted: redactedByPostgres(text),
      });
    }
  });

  test.each([
    "SELECT 'O''Brien', E'it\\'s', $$a'b$$, $q$x$q$, $1 FROM t1",
    "SELECT U&'d\\0061t' UESCAPE '!', B'101', X'1F', 1e5, .5, 1. FROM t /* a /* b */ c */",
    "SELECT 0x1F, 0o17, 0b101, 1_000_000, 1.5E-3 -- c",
    "FOR i IN 1..10 LOOP x := a[1:2]::int; END LOOP",
    "SELECT a+--b\n1, 'a' 'b', x$$y$$, \"q\"\"x\"",
    "SELECT 'a'\n'b', E'c'\n  'd\\'e', B'01'\n'10', 'f' 'g', B'01'\n'''''1'",

    ...PLANTED_STATEMENTS["aurora-postgresql"],
  ])("%j", (text) => {
    expect(redactSqlLiterals(text, "aurora-postgresql")).toBe(redactedByPostgres(text));
  });

  test.each([
    "SELECT 'ann@example.com",
    "SELECT E'it\\'s",
    "SELECT $$ann@example.com",
    "SELECT $q$ann@example.com$q",
    'SELECT "ann@example.com',
    "SELECT 1 /* a /* b */ ann@example.com",
  ])("both refuse %j", (text) => {
    expect(redactedByPostgres(text)).toBeUndefined();
    expect(redactSqlLiterals(text, "aurora-postgresql")).toBe(UNREADABLE_SQL);
  });
});
