// The parts of deploy/stack-config.cjs `das-decrypt setup` uses (src/cli/setup-params.ts), typed:
// it checks the parameters it writes with the deploy's own checks.

/** The parameters stack-config.cjs reads: those of serverless.yml's params.default. */
export declare const PARAM_NAMES: readonly string[];

/** One "Parameter <name> …" line per bad parameter; every name of PARAM_NAMES must be present. */
export declare function checkParams(params: Readonly<Record<string, string>>): string[];

/** The stage file of `stage`, relative to serverless.yml's folder: params/<stage>.json. */
export declare function stageFile(stage: string): string;

/** A stage file's region and database ("" when absent), its parameters as written, one line per problem. */
export declare function parseStageFile(
  text: string,
  file: string,
  known: readonly string[],
): {
  region: string;
  database: string;
  params: Record<string, string | number | boolean>;
  problems: string[];
};
