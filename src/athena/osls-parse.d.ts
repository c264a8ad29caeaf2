/** The YAML/JSON reader `serverless` (osls) uses for `${file(...)}`, CloudFormation tags included. */
declare module "osls/lib/utils/fs/parse.js" {
  /** Parses `contents` by the extension of `filePath`: `!Ref x` becomes `{ Ref: "x" }`, `!Sub s` `{ "Fn::Sub": s }`. */
  export default function parse(filePath: string, contents: string | Buffer): unknown;
}
