// A local RDS endpoint (query protocol, XML) answering with the answers moto's RDS gave, recorded
// under test/fixtures/rds/ by its record.py; moto does not model activity streams, so record.py
// sets their fields on its objects before describing them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type FakeService, type Received, startFakeService } from "./cli-harness.ts";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "rds");

interface Recorded {
  readonly action: string;
  readonly identifier: string;
  readonly status: number;
  readonly file: string;
}

const RECORDED = JSON.parse(readFileSync(join(FIXTURES, "answers.json"), "utf8")) as Recorded[];

/** The account and region the answers were recorded in. */
export const RECORDED_ACCOUNT = "123456789012";
export const RECORDED_REGION = "eu-west-1";

/** A request to the endpoint: the action and the cluster or instance identifier it names. */
export interface RdsRequest {
  readonly action: string | null;
  readonly identifier: string | null;
  /** The region the request was signed for. */
  readonly region: string | undefined;
}

export function rdsRequest(received: Received): RdsRequest {
  const form = new URLSearchParams(received.body);
  const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/rds\//.exec(String(received.headers.authorization));
  return {
    action: form.get("Action"),
    identifier: form.get("DBClusterIdentifier") ?? form.get("DBInstanceIdentifier"),
    region: scope?.[1],
  };
}

/**
 * Starts the endpoint. RDS takes a name or an ARN as the identifier: an ARN is answered as its
 * name. `edit` may change an answer's XML (a status, a key) before it is sent. A request no answer
 * was recorded for gets a 500 that names it, so the test fails saying what was asked.
 */
export function startRecordedRds(edit: (xml: string) => string = (xml) => xml): Promise<FakeService> {
  return startFakeService((received, response) => {
    const { action, identifier } = rdsRequest(received);
    const name = identifier?.replace(/^arn:[^:]+:rds:[^:]+:\d{12}:(cluster|db):/, "");
    const recorded = RECORDED.find((answer) => answer.action === action && answer.identifier === name);
    if (recorded === undefined) {
      response.writeHead(500, { "content-type": "text/plain" });
      response.end(`no recorded answer to ${action} ${identifier}`);
      return;
    }
    response.writeHead(recorded.status, { "content-type": "text/xml", "x-amzn-requestid": "recorded" });
    response.end(edit(readFileSync(join(FIXTURES, recorded.file), "utf8")));
  });
}
