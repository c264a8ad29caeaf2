/**
 * Statements for the `REDACT_SQL_LITERALS` tests: fixed ones with planted personal data, and a
 * seeded generator of random statements that knows the redacted text it expects, per engine.
 */
import type { EngineName } from "../../src/lines/normalize-event.ts";

/** Personal data planted in `PLANTED_STATEMENTS`; none of it may survive redaction. */
export const PLANTED_VALUES = ["ann@example.com", "4111 1111 1111 1111", "4111111111111111", "4111", "Brien"];

export const PLANTED_STATEMENTS: Readonly<Record<EngineName, readonly string[]>> = {
  "aurora-postgresql": [
    "SELECT * FROM customers WHERE email = 'ann@example.com' AND card = '4111 1111 1111 1111'",
    "UPDATE customers SET last_name = 'O''Brien', card = 4111111111111111 WHERE id = $1",
    "SELECT E'ann@example.com\\n', E'O\\'Brien', e'4111\\\\' FROM t1",
    "INSERT INTO notes (body) VALUES ($q$card 4111 1111 1111 1111 for O'Brien$q$), ($$ann@example.com$$)",
    "SELECT U&'ann@example.com', X'4111111111111111' /* note: ann@example.com */ -- O'Brien 4111111111111111",
    "SELECT 1 /* outer /* ann@example.com */ still 4111111111111111 */ FROM t",
    "CREATE FUNCTION f() RETURNS text AS $body$ SELECT 'O''Brien' $body$ LANGUAGE sql",
  ],
  "aurora-mysql": [
    "SELECT * FROM customers WHERE email = \"ann@example.com\" AND note = 'it\\'s O\\'Brien'",
    'INSERT INTO cards VALUES (_utf8mb4\'4111 1111 1111 1111\', 4111111111111111, "O""Brien")',
    "SELECT 1 # ann@example.com\nFROM t -- 4111111111111111",
    "/*!40101 SET @card = '4111111111111111' */",
    "SELECT N'ann@example.com', X'41111111', 0x4111111111111111, b'0100' FROM `t1` WHERE c = 'O''Brien'",
    'UPDATE users SET email = \'ann@example.com\\\\\' WHERE note = "it\\"s 4111 1111 1111 1111"',
  ],
  oracle: [
    "SELECT * FROM customers WHERE email = q'[ann@example.com]' AND name = 'O''Brien'",
    "INSERT INTO cards VALUES (nq'{4111 1111 1111 1111}', N'ann@example.com', 4111111111111111)",
    "SELECT /*+ INDEX(c 'ann@example.com') */ c.id FROM customers c WHERE c.card = q'!4111111111111111!'",
    "UPDATE \"Customers\" SET note = Q'<it's O'Brien>' WHERE id = :1 AND email = q'(ann@example.com)'",
    "BEGIN x := 'ann@example.com'; -- 4111111111111111\nEND;",
  ],
  sqlserver: [
    "SELECT * FROM customers WHERE email = N'ann@example.com' AND name = 'O''Brien'",
    "EXEC sp_addlogin @loginame = N'ann@example.com', @passwd = '4111 1111 1111 1111'",
    "UPDATE [dbo].[cards] SET number = 4111111111111111 /* ann@example.com */ WHERE id = @p1",
    "Login failed for user 'ann@example.com'. Reason: Password did not match that for the login provided. [CLIENT: 10.0.0.9]",
    "SELECT 0x4111111111111111, $4111.11 -- O'Brien\nFROM t /* a /* ann@example.com */ 4111 */",
  ],
};

/** A random statement, the text redaction must produce, and the markers hidden in its literals and comments. */
export interface Sample {
  text: string;
  expected: string;
  secrets: string[];
}

type Random = () => number;

interface Piece {
  text: string;
  expected: string;
  secret?: string;
}

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

const digits = (random: Random, count: number, alphabet = "0123456789"): string =>
  Array.from({ length: count }, () => pick(random, [...alphabet])).join("");

/** `zq` and six letters or digits: found nowhere else in a statement. */
const marker = (random: Random): string => `zq${digits(random, 6, "abcdefghijklmnopqrstuvwxyz0123456789")}`;

/** Literal or comment content: a marker among the characters that end or escape things. */
const HARD = [
  "'",
  "''",
  '"',
  "\\",
  "$",
  "*",
  "/",
  "-",
  "--",
  "#",
  ";",
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
  "<",
  ">",
];
const SOFT = [
  "!",
  ",",
  ".",
  ":",
  "@",
  "?",
  "%",
  " ",
  "\n",
  "\t",
  "ann@example.com",
  "4111 1111 1111 1111",
  "é",
];
function content(random: Random, secret: string): string {
  const parts = [secret];
  for (let n = Math.floor(random() * 6); n > 0; n -= 1)
    parts.push(pick(random, random() < 0.5 ? HARD : SOFT));
  return parts.sort(() => random() - 0.5).join("");
}

const without = (text: string, characters: string): string =>
  [...text].filter((c) => !characters.includes(c)).join("");

function literal(random: Random, make: (body: string) => string, clean = (body: string) => body): Piece {
  const secret = marker(random);
  return { text: make(clean(content(random, secret))), expected: "?", secret };
}

/** A number of at least five digits (so it cannot hide in a name such as `t1`), in one of the engine's forms. */
function number(random: Random, extra: readonly ((r: Random) => string)[]): Piece {
  const d = digits(random, 5);
  const forms = [
    () => d,
    () => `${d}.${digits(random, 3)}`,
    () => `.${d}`,
    () => `${d}.`,
    () => `${d}e${pick(random, ["", "+", "-"])}${digits(random, 2)}`,
    () => `${d}.${digits(random, 2)}E${digits(random, 1)}`,
    ...extra.map((form) => () => form(random)),
  ];
  const text = pick(random, forms)();
  const secret = text.replace(/[^0-9]/g, "").slice(0, 5);
  return secret.length === 5 ? { text, expected: "?", secret } : { text, expected: "?" };
}

/** A comment; a line comment's newline stays after the space that replaces it. */
function comment(random: Random, make: (body: string) => string, forbidden: string): Piece {
  const secret = marker(random);
  const text = make(without(content(random, secret), forbidden));
  return { text, expected: text.endsWith("\n") ? " \n" : " ", secret };
}

const kept = (...texts: string[]): ((random: Random) => Piece) => {
  return (random) => {
    const text = pick(random, texts);
    return { text, expected: text };
  };
};

const COMMON = kept(
  ..."SELECT FROM WHERE AND OR NOT IN IS NULL INSERT INTO VALUES UPDATE SET DELETE ORDER BY JOIN ON AS CASE WHEN THEN ELSE END".split(
    " ",
  ),
  ..."t1 col_2 orders customer_id a$b e n q x b u é_nom".split(" "),
  ..."= <> < > <= >= + - * / , ( ) ; || % .".split(" "),
);

type PieceMaker = (random: Random) => Piece;

const MAKERS: Readonly<Record<EngineName, readonly PieceMaker[]>> = {
  "aurora-postgresql": [
    kept("$1", "$23", '"Quoted ""id"""', 'U&"x"', "::", "#", "@>", "[", "]"),
    (r) => literal(r, (b) => `'${b.replaceAll("'", "''")}'`),
    (r) =>
      literal(
        r,
        (b) =>
          `${pick(r, ["E", "e"])}'${b.replaceAll("\\", "\\\\").replaceAll("'", pick(r, ["''", "\\'"]))}'`,
      ),
    (r) => {
      const tag = pick(r, ["", "q", "tag_1"]);
      const quote = `$${tag}$`;
      return literal(
        r,
        (b) => `${quote}${b}${quote}`,
        (b) => ((b + quote).indexOf(quote) < b.length ? without(b, "$") : b),
      );
    },
    (r) =>
      literal(
        r,
        (b) => `${pick(r, ["U", "u"])}&'${b.replaceAll("'", "''")}'`,
        (b) => without(b, "\\"),
      ),
    (r) => ({ text: `B'${digits(r, 12, "01")}'`, expected: "?" }),
    (r) => ({ text: `X'${digits(r, 12, "0123456789ABCDEF")}'`, expected: "?" }),
    (r) =>
      number(r, [
        (rr) => `0x${digits(rr, 6, "0123456789abcdef")}`,
        (rr) => `${digits(rr, 5)}_${digits(rr, 3)}`,
        (rr) => `0o${digits(rr, 6, "01234567")}`,
        (rr) => `0b${digits(rr, 8, "01")}`,
      ]),
    (r) => comment(r, (b) => `/* ${b} */`, "*/"),
    (r) => comment(r, (b) => `/* a /* ${b} */ b */`, "*/"),
    (r) => comment(r, (b) => `--${b}\n`, "\n\r"),
  ],
  "aurora-mysql": [
    kept("`t 1`", "`a``b`", "@v1", "@@session.sql_mode", "?", ":=", "123abc", "t.1c", "@"),
    (r) => literal(r, (b) => `'${b.replaceAll("\\", "\\\\").replaceAll("'", pick(r, ["''", "\\'"]))}'`),
    (r) => literal(r, (b) => `"${b.replaceAll("\\", "\\\\").replaceAll('"', pick(r, ['""', '\\"']))}"`),
    (r) => ({
      ...literal(r, (b) => `_utf8mb4'${b.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`),
      expected: "_utf8mb4?",
    }),
    (r) => literal(r, (b) => `N'${b.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`),
    (r) => ({ text: `X'${digits(r, 12, "0123456789ABCDEF")}'`, expected: "?" }),
    (r) => ({ text: `b'${digits(r, 12, "01")}'`, expected: "?" }),
    (r) => number(r, [(rr) => `0x${digits(rr, 6, "0123456789ABCDEF")}`, (rr) => `0b${digits(rr, 8, "01")}`]),
    (r) => comment(r, (b) => `/* ${b} */`, "*"),
    (r) => comment(r, (b) => `/*!40101 ${b} */`, "*"),
    (r) => comment(r, (b) => `-- ${b}\n`, "\n"),
    (r) => comment(r, (b) => `#${b}\n`, "\n"),
  ],
  oracle: [
    kept('"T1"', ":1", ":name", ":=", "tbl@link1", "x#1", "@"),
    (r) => literal(r, (b) => `'${b.replaceAll("'", "''")}'`),
    (r) => {
      const [open, close] = pick(r, ["[]", "{}", "()", "<>", "!!", "##", "||", "~~"]) as string;
      const prefix = pick(r, ["q", "Q", "nq", "NQ", "Nq"]);
      return literal(
        r,
        (b) => `${prefix}'${open}${b}${close}'`,
        (b) => without(b, close ?? ""),
      );
    },
    (r) => literal(r, (b) => `N'${b.replaceAll("'", "''")}'`),
    (r) => number(r, [(rr) => `${digits(rr, 5)}.${digits(rr, 2)}f`, (rr) => `${digits(rr, 5)}D`]),
    (r) => comment(r, (b) => `/* ${b} */`, "*"),
    (r) => comment(r, (b) => `/*+ INDEX(t '${b}') */`, "*"),
    (r) => comment(r, (b) => `--${b}\n`, "\n"),
  ],
  sqlserver: [
    kept("[t 1]", "[a]]b]", '"c"', "@p1", "@@ROWCOUNT", "#t1", "##g", "$action", "::"),
    (r) => literal(r, (b) => `'${b.replaceAll("'", "''")}'`),
    (r) => literal(r, (b) => `N'${b.replaceAll("'", "''")}'`),
    (r) =>
      number(r, [
        (rr) => `0x${digits(rr, 8, "0123456789ABCDEF")}`,
        (rr) => `$${digits(rr, 5)}.${digits(rr, 2)}`,
      ]),
    (r) => comment(r, (b) => `/* ${b} */`, "*/"),
    (r) => comment(r, (b) => `/* a /* ${b} */ b */`, "*/"),
    (r) => comment(r, (b) => `--${b}\n`, "\n"),
  ],
};

const SEPARATORS = [" ", " ", " ", "\n", "\t", "  ", "\r\n"];

/** A statement of 4 to 30 pieces of `engine`'s syntax, about a third of them literals or comments. */
export function randomStatement(engine: EngineName, random: Random): Sample {
  const makers = MAKERS[engine];
  const text: string[] = [];
  const expected: string[] = [];
  const secrets: string[] = [];
  let previous = "";
  for (let n = 4 + Math.floor(random() * 27); n > 0; n -= 1) {
    const piece = random() < 0.6 ? COMMON(random) : pick(random, makers)(random);
    // PostgreSQL joins `'a'` newline `'b'` into one literal: the tables test that, not the generator.
    const separator =
      engine === "aurora-postgresql" && previous.endsWith("'") && piece.text.startsWith("'")
        ? " "
        : pick(random, SEPARATORS);
    text.push(separator, piece.text);
    expected.push(separator, piece.expected);
    if (piece.secret !== undefined) secrets.push(piece.secret);
    previous = piece.text;
  }
  return { text: text.join(""), expected: expected.join(""), secrets };
}
