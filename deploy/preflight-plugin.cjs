// Checks what the stack needs before osls resolves it, so that each problem is told once, in one
// line, and the command exits 1: every bad parameter at once and then, only when the stack must ask
// AWS for the account id (bucketName empty), whether the credentials work and what the bucket named
// after it allows (with Object Lock, room for the "-output" bucket's name). Left to the resolution
// of ${file(./deploy/stack-config.cjs)}, the same problems come out once per reference to that
// file, inside "Cannot resolve serverless.yml" and dozens of stack frames, one bad parameter a run.
// osls prints an error of its own class (serverless.classes.Error) as its message alone.
// Before any of that, it adds the stage's parameters file, params/<stage>.json, when there is one.
"use strict";

const { readFileSync } = require("node:fs");
const { join } = require("node:path");
const {
  checkBucketNames,
  checkParams,
  describeProblems,
  generatedBucketName,
  parseStageFile,
  readParams,
  stageFile,
} = require("./stack-config.cjs");
// osls's own `param` variable source, the one ${param:…} resolves with (CLI --param, then
// params.<stage>, then params.default): the values checked here are the values the stack gets.
const paramSource = require("osls/lib/configuration/variables/sources/instance-dependent/param");

class PreflightPlugin {
  constructor(serverless, _options, utils) {
    this.serverless = serverless;
    this.log = utils?.log;
  }

  /**
   * osls awaits this while it loads the plugins: the CLI is parsed and the configuration read, but
   * ${param:…}, ${file(…)} and ${aws:…} are not resolved yet, and no AWS call has been made.
   * Throws serverless.classes.Error naming every bad parameter, or what is wrong with the credentials.
   */
  async asyncInit() {
    const { serverless } = this;
    const { commands, isHelpRequest } = serverless.processedInput;
    if (isHelpRequest || commands[0] === "plugin") return;
    // First: osls reads a stage's parameters once, at the first ${param:…} (this plugin's own read).
    addStageFile(serverless, this.log);
    const params = await readParams(paramReader(serverless));
    // A parameter set from a variable osls resolves only later (${ssm:…}, ${aws:…}) cannot be
    // checked yet: stack-config.cjs checks them all once it is (in osls's longer error form).
    if (Object.values(params).some((value) => value.includes("${"))) return;
    const invalid = (problems) =>
      new serverless.classes.Error(describeProblems(problems), "DAS_DECRYPT_INVALID_PARAMETERS");
    const problems = checkParams(params);
    if (problems.length > 0) throw invalid(problems);
    if (params.bucketName !== "") return;
    // Only then is the stack resolved with ${aws:accountId}, whose failures osls reports with frames.
    const accountId = await checkCredentials(serverless);
    const provider = serverless.getProvider("aws");
    const bucketName = generatedBucketName(provider.getStage(), accountId, provider.getRegion());
    const nameProblems = checkBucketNames(params, bucketName);
    if (nameProblems.length > 0) throw invalid(nameProblems);
  }
}

/**
 * Adds the parameters of params/<stage>.json (written by `das-decrypt setup`) under params.<stage>,
 * where ${param:…} finds them after --param and before params.default; provider.region reads the
 * file's region itself. Throws serverless.classes.Error, one line per problem, when the file is
 * malformed, names a parameter params.default does not have, sets one that params.<stage> in
 * serverless.yml sets to another value, or is for another region than --region.
 */
function addStageFile(serverless, log) {
  const stage = serverless.getProvider("aws").getStage();
  const file = stageFile(stage);
  let text;
  try {
    text = readFileSync(join(serverless.serviceDir, file), "utf8");
  } catch (error) {
    if (error.code === "ENOENT") return;
    throw new serverless.classes.Error(`Cannot read ${file}: ${error.message}`, "DAS_DECRYPT_STAGE_FILE");
  }
  const configured = serverless.configurationInput.params ?? {};
  const { region, params, problems } = parseStageFile(text, file, Object.keys(configured.default ?? {}));
  const inConfiguration = configured[stage] ?? {};
  for (const [name, value] of Object.entries(params)) {
    const other = inConfiguration[name];
    if (other !== undefined && other !== null && String(other) !== String(value)) {
      problems.push(
        `Parameter ${name} is "${value}" in ${file} and "${other}" under params.${stage} in serverless.yml: keep one`,
      );
    }
  }
  const asked = serverless.processedInput.options.region;
  if (region !== "" && asked !== undefined && asked !== region) {
    problems.push(
      `${file} is for ${region}, the database's region, not --region ${asked}: leave out --region, or run das-decrypt setup again`,
    );
  }
  if (problems.length > 0) throw new serverless.classes.Error(problems.join("\n"), "DAS_DECRYPT_STAGE_FILE");
  for (const [name, value] of Object.entries(params))
    serverless.extendConfiguration(["params", stage, name], value);
  log?.notice(`Parameters of stage ${stage} from ${file}: ${Object.keys(params).join(", ")}`);
}

/** Reads `param:<name>` as ${param:…} resolves it at this stage, with the stage of the command. */
function paramReader(serverless) {
  const source = paramSource(serverless);
  const options = serverless.processedInput.options;
  // Only asked for provider.stage when there is no --stage; osls has resolved it by now.
  const resolveConfigurationProperty = async (path) =>
    path.reduce((value, key) => value?.[key], serverless.configurationInput);
  return async (address) => (await source.resolve({ address, options, resolveConfigurationProperty })).value;
}

/**
 * Asks STS whose the credentials are, as ${aws:accountId} is about to (provider.getAccountId, which
 * osls memoizes and its deploy reuses), and turns a failure into one line that says what to do.
 * Returns the account id.
 */
async function checkCredentials(serverless) {
  try {
    return await serverless.getProvider("aws").getAccountId();
  } catch (error) {
    const ServerlessError = serverless.classes.Error;
    throw new ServerlessError(
      describeCredentialsError(error, ServerlessError),
      "DAS_DECRYPT_AWS_CREDENTIALS",
    );
  }
}

const NEEDED_FOR = "the bucket is named after the account id when bucketName is empty";
const oneLine = (text) => String(text).replace(/\s*\n\s*/g, " ");

function describeCredentialsError(error, ServerlessError) {
  if (error?.code === "AWS_CREDENTIALS_NOT_FOUND") {
    return `AWS credentials not found (${NEEDED_FOR}): set AWS_PROFILE, or run "aws configure" or "aws sso login", then run the command again`;
  }
  // osls's own one-line errors about the credentials (e.g. a profile that is not configured).
  if (error instanceof ServerlessError) return oneLine(error.message);
  const what = `${error?.name ?? "Error"}: ${oneLine(error?.message ?? error)}`;
  if (error?.$fault === "client") {
    return `AWS refused the credentials (${what}): check AWS_PROFILE or AWS_ACCESS_KEY_ID, or run "aws sso login" for a fresh session`;
  }
  return `Could not reach AWS STS to check the credentials (${what}) (${NEEDED_FOR})`;
}

module.exports = PreflightPlugin;
