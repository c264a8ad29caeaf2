// Object events and alarms as deploy/stack-config.cjs renders them: each mistake is one line that
// names the parameter, and valid settings become the function's environment, its PutEvents
// statement and the two alarms. cfn-schema.test.ts checks the packaged result against
// CloudFormation's schemas, iam-requests.test.ts the statement against the function's own request.
import { describe, expect, test } from "vitest";
import { EVENT_SOURCE, OBJECT_DECRYPTED } from "../../src/lambda/object-events.ts";
import { type CfnResource, configWith, problemsWith, type StackConfig } from "./stack-config-harness.ts";

const KINESIS =
  "arn:aws:kinesis:eu-west-1:111122223333:stream/aws-rds-das-cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const TOPIC = "arn:aws:sns:eu-west-1:111122223333:das-decrypt-alarms";

const resource = (config: StackConfig, id: string): CfnResource => {
  const found = config.resources.Resources[id];
  if (found === undefined) throw new Error(`no ${id} among the resources`);
  return found;
};
const alarm = (config: StackConfig, id: string) => resource(config, id).Properties;

/** A mistake, and the one line that names it. */
const MISTAKES: [Record<string, string>, string][] = [
  [{ objectEvents: "yes" }, 'Parameter objectEvents must be "true" or "false", got "yes"'],
  ...["0", "1441", "2.5", "-30", "thirty", ""].map((minutes): [Record<string, string>, string] => [
    { streamSilenceMinutes: minutes },
    `Parameter streamSilenceMinutes must be a whole number of minutes from 1 to 1440 (a CloudWatch alarm looks back a day at most), got "${minutes}"`,
  ]),
  [
    { dasKinesisStreamArn: KINESIS, streamSilenceMinutes: "9" },
    `Parameter streamSilenceMinutes must be at least 10 with dasKinesisStreamArn: the stack's Firehose stream buffers 300 s, so objects arrive only every 5 minutes on a quiet stream, got "9"`,
  ],
  ...[
    "das-decrypt-alarms",
    "arn:aws:sqs:eu-west-1:111122223333:das-decrypt-alarms",
    "arn:aws:sns:eu-west-1:1111:das-decrypt-alarms",
    "arn:aws:sns:eu-west-1:111122223333:alarms/ops",
  ].map((arn): [Record<string, string>, string] => [
    { alarmTopicArn: arn },
    `Parameter alarmTopicArn must be the ARN of an SNS topic (arn:aws:sns:<region>:<account>:<name>), or empty for none, got "${arn}"`,
  ]),
];

describe("each mistake is one line naming the parameter", () => {
  test.each(MISTAKES)("%j", async (params, line) => {
    expect(await problemsWith(params)).toEqual([line]);
    await expect(configWith(params)).rejects.toThrow(line);
  });

  test.each([
    [{ streamSilenceMinutes: "1" }],
    [{ streamSilenceMinutes: "1440" }],
    [{ streamSilenceMinutes: " 45 " }],
    [{ dasKinesisStreamArn: KINESIS, streamSilenceMinutes: "10" }],
    [{ objectEvents: "false" }],
    [{ alarmTopicArn: TOPIC }],
    [{ alarmTopicArn: "arn:aws-us-gov:sns:us-gov-west-1:111122223333:Ops_Alarms-1" }],
  ])("%j is valid", async (params) => {
    expect(await problemsWith(params)).toEqual([]);
  });
});

describe("objectEvents", () => {
  test('"true" (the default) gives the function PUBLISH_OBJECT_EVENTS and PutEvents of its own event only, on the default bus only', async () => {
    const config = await configWith({ objectEvents: "true" });
    expect(config.environment.PUBLISH_OBJECT_EVENTS).toBe("true");
    expect(config.iamStatements.filter((s) => JSON.stringify(s).includes("events:"))).toEqual([
      {
        Sid: "PublishObjectEvents",
        Effect: "Allow",
        Action: ["events:PutEvents"],
        Resource: [
          { "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default" },
        ],
        Condition: {
          "ForAllValues:StringEquals": {
            "events:source": "das-decrypt",
            "events:detail-type": "DAS Object Decrypted",
          },
          Null: { "events:source": "false", "events:detail-type": "false" },
        },
      },
    ]);
  });

  test("the statement names the source and detail-type the function puts (src/lambda/object-events.ts)", async () => {
    const [statement] = (await configWith({})).iamStatements.filter((s) => s.Sid === "PublishObjectEvents");
    expect(statement?.Condition).toMatchObject({
      "ForAllValues:StringEquals": { "events:source": EVENT_SOURCE, "events:detail-type": OBJECT_DECRYPTED },
    });
  });

  test('"false": no PUBLISH_OBJECT_EVENTS and no EventBridge permission at all', async () => {
    const config = await configWith({ objectEvents: "false" });
    expect(config.environment).not.toHaveProperty("PUBLISH_OBJECT_EVENTS");
    expect(JSON.stringify(config.iamStatements)).not.toContain("events:");
  });
});

describe("the stage's own metrics", () => {
  test.each([
    ["prod", "das-decrypt-prod"],
    ["ci", "das-decrypt-ci"],
  ])(
    "stage %s: POWERTOOLS_SERVICE_NAME and the silence alarm's service dimension are %s",
    async (stage, service) => {
      const config = await configWith({}, [], stage);
      expect(config.environment).toMatchObject({
        POWERTOOLS_SERVICE_NAME: service,
        POWERTOOLS_METRICS_NAMESPACE: "DasDecrypt",
      });
      expect(alarm(config, "StreamSilenceAlarm")).toMatchObject({
        Namespace: "DasDecrypt",
        Dimensions: [{ Name: "service", Value: service }],
      });
    },
  );
});

describe("StreamSilenceAlarm", () => {
  test("by default: fires when the function decrypted no object in 30 minutes, no data counting as none", async () => {
    const config = await configWith({});
    expect(resource(config, "StreamSilenceAlarm").Type).toBe("AWS::CloudWatch::Alarm");
    expect(alarm(config, "StreamSilenceAlarm")).toEqual({
      AlarmDescription:
        "das-decrypt-prod decrypted no object for 30 minutes. A started activity stream writes a heartbeat at least every 2 seconds, so a live stream always produces objects: the stream, its Firehose delivery, the S3 notification or the function has stopped.",
      Namespace: "DasDecrypt",
      MetricName: "ObjectsDecrypted",
      Dimensions: [{ Name: "service", Value: "das-decrypt-prod" }],
      Statistic: "Sum",
      Period: 300,
      EvaluationPeriods: 6,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
    });
  });

  test.each([
    ["1", 60, 1],
    ["7", 60, 7],
    ["10", 300, 2],
    ["61", 60, 61],
    ["1440", 300, 288],
  ])(
    "%s minutes: periods of %i s, %i of them, the whole window and a day at most",
    async (minutes, period, count) => {
      const properties = alarm(await configWith({ streamSilenceMinutes: minutes }), "StreamSilenceAlarm");
      expect([properties.Period, properties.EvaluationPeriods]).toEqual([period, count]);
      expect(period * count).toBe(Number(minutes) * 60);
      expect(period * count).toBeLessThanOrEqual(86_400);
    },
  );
});

describe("alarmTopicArn", () => {
  test("notifies the topic of both alarms, and of the silence alarm's all-clear", async () => {
    const config = await configWith({ alarmTopicArn: TOPIC });
    expect(alarm(config, "FailedEventsAlarm").AlarmActions).toEqual([TOPIC]);
    expect(alarm(config, "FailedEventsAlarm")).not.toHaveProperty("OKActions");
    expect(alarm(config, "StreamSilenceAlarm")).toMatchObject({ AlarmActions: [TOPIC], OKActions: [TOPIC] });
  });

  test("empty: the alarms notify nobody", async () => {
    const config = await configWith({});
    for (const id of ["FailedEventsAlarm", "StreamSilenceAlarm"]) {
      expect(alarm(config, id)).not.toHaveProperty("AlarmActions");
      expect(alarm(config, id)).not.toHaveProperty("OKActions");
    }
  });
});
