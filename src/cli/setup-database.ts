import {
  type DBCluster,
  DBClusterNotFoundFault,
  type DBInstance,
  DBInstanceNotFoundFault,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  type RDSClient,
} from "@aws-sdk/client-rds";
import { AwsCallError, DasDecryptError, UsageError } from "../config/errors.ts";

/**
 * An activity stream is the cluster's for Aurora (`DbClusterResourceId`, cluster-…) and the
 * instance's for RDS for Oracle and SQL Server (`DbiResourceId`, db-…).
 */
export type DatabaseKind = "cluster" | "instance";

/** The database `setup` was asked about: a name or an ARN. */
export interface DatabaseTarget {
  readonly kind: DatabaseKind;
  readonly identifier: string;
}

/** The parts of an RDS ARN, `arn:<partition>:rds:<region>:<account>:cluster|db:<name>`. */
export interface RdsArn {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly kind: DatabaseKind;
  readonly name: string;
}

/** What RDS says about a database and its activity stream. */
export interface StreamDescription {
  readonly kind: DatabaseKind;
  readonly name: string;
  /** The database's ARN, and its parts. */
  readonly arn: string;
  readonly arnParts: RdsArn;
  readonly engine: string;
  readonly resourceId: string;
  readonly mode: string | undefined;
  readonly kmsKeyId: string;
  readonly kinesisStreamName: string;
}

/** `setup` cannot go on: one line, and on the lines after it what to do. */
export class SetupError extends DasDecryptError {
  readonly hints: readonly string[];

  constructor(message: string, hints: readonly string[] = []) {
    super(message);
    this.name = "SetupError";
    this.hints = hints;
  }
}

const RDS_ARN = /^arn:(aws[a-z-]*):rds:([a-z0-9-]+):(\d{12}):(cluster|db):([A-Za-z0-9-]+)$/;

/** The parts of an RDS cluster or DB instance ARN, or undefined when `arn` is not one. */
export function parseRdsArn(arn: string): RdsArn | undefined {
  const match = RDS_ARN.exec(arn);
  if (match === null) return undefined;
  const [, partition = "", region = "", account = "", type, name = ""] = match;
  return { partition, region, account, kind: type === "cluster" ? "cluster" : "instance", name };
}

/**
 * The region an identifier's ARN names, undefined for a name.
 * @throws UsageError when it is an ARN of something else than the kind asked for.
 */
export function regionOfTarget(target: DatabaseTarget): string | undefined {
  if (!target.identifier.startsWith("arn:")) return undefined;
  const arn = parseRdsArn(target.identifier);
  const flag = `--${target.kind}`;
  if (arn === undefined) {
    throw new UsageError(`${flag} ${target.identifier} is not the ARN of an RDS cluster or DB instance`);
  }
  if (arn.kind !== target.kind) {
    const other = arn.kind === "cluster" ? "an Aurora cluster" : "a DB instance";
    throw new UsageError(`${flag} ${target.identifier} is ${other}'s ARN: use --${arn.kind}`);
  }
  return arn.region;
}

/**
 * Describes the database with DescribeDBClusters or DescribeDBInstances and checks that its
 * activity stream is started.
 * @throws SetupError when there is no such database, it is of the other kind (an Aurora instance's
 * stream is its cluster's), or its stream is not started; AwsCallError when RDS cannot be asked.
 */
export async function describeStream(client: RDSClient, target: DatabaseTarget): Promise<StreamDescription> {
  const region = await client.config.region();
  const { identifier } = target;
  let described: Described | undefined;
  if (target.kind === "cluster") {
    const cluster = await clusterNamed(client, identifier);
    described = cluster && fromCluster(cluster);
  } else {
    const instance = await instanceNamed(client, identifier);
    if (instance?.DBClusterIdentifier !== undefined)
      throw auroraMember(identifier, instance.DBClusterIdentifier);
    described = instance && fromInstance(instance);
  }
  if (described === undefined) {
    // The other kind under the same name says which flag was meant (an ARN already said it).
    if (!identifier.startsWith("arn:")) await refuseOtherKind(client, target);
    throw notFound(target, region);
  }
  return checkStarted(target.kind, described, region);
}

function auroraMember(identifier: string, cluster: string): SetupError {
  return new SetupError(
    `${identifier} is an instance of the Aurora cluster ${cluster}, whose activity stream is the cluster's`,
    [`Run: das-decrypt setup --cluster ${cluster}`],
  );
}

/** The fields of either answer that matter here, before they are checked. */
interface Described {
  readonly name: string;
  readonly arn: string;
  readonly engine: string;
  readonly resourceId: string | undefined;
  readonly status: string | undefined;
  readonly mode: string | undefined;
  readonly kmsKeyId: string | undefined;
  readonly kinesisStreamName: string | undefined;
}

function fromCluster(cluster: DBCluster): Described {
  return {
    name: cluster.DBClusterIdentifier ?? "",
    arn: cluster.DBClusterArn ?? "",
    engine: cluster.Engine ?? "",
    resourceId: cluster.DbClusterResourceId,
    status: cluster.ActivityStreamStatus,
    mode: cluster.ActivityStreamMode,
    kmsKeyId: cluster.ActivityStreamKmsKeyId,
    kinesisStreamName: cluster.ActivityStreamKinesisStreamName,
  };
}

function fromInstance(instance: DBInstance): Described {
  return {
    name: instance.DBInstanceIdentifier ?? "",
    arn: instance.DBInstanceArn ?? "",
    engine: instance.Engine ?? "",
    resourceId: instance.DbiResourceId,
    status: instance.ActivityStreamStatus,
    mode: instance.ActivityStreamMode,
    kmsKeyId: instance.ActivityStreamKmsKeyId,
    kinesisStreamName: instance.ActivityStreamKinesisStreamName,
  };
}

async function clusterNamed(client: RDSClient, identifier: string): Promise<DBCluster | undefined> {
  try {
    const answer = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: identifier }));
    return answer.DBClusters?.[0];
  } catch (error) {
    if (error instanceof DBClusterNotFoundFault) return undefined;
    throw new AwsCallError("rds:DescribeDBClusters", error);
  }
}

async function instanceNamed(client: RDSClient, identifier: string): Promise<DBInstance | undefined> {
  try {
    const answer = await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }));
    return answer.DBInstances?.[0];
  } catch (error) {
    if (error instanceof DBInstanceNotFoundFault) return undefined;
    throw new AwsCallError("rds:DescribeDBInstances", error);
  }
}

/** Throws a SetupError naming the right flag when a database of the other kind has that name. */
async function refuseOtherKind(client: RDSClient, target: DatabaseTarget): Promise<void> {
  const { identifier } = target;
  // Only a hint: a failure to look (a permission the user lacks) leaves the "not found".
  const look = async <T>(describe: () => Promise<T>) => describe().catch(() => undefined);
  if (target.kind === "instance") {
    if ((await look(() => clusterNamed(client, identifier))) === undefined) return;
    throw new SetupError(`${identifier} is an Aurora cluster, not a DB instance`, [
      `Run: das-decrypt setup --cluster ${identifier}`,
    ]);
  }
  const instance = await look(() => instanceNamed(client, identifier));
  if (instance === undefined) return;
  if (instance.DBClusterIdentifier !== undefined)
    throw auroraMember(identifier, instance.DBClusterIdentifier);
  throw new SetupError(
    `${identifier} is a DB instance (${instance.Engine ?? "engine unknown"}), not a cluster`,
    [`Run: das-decrypt setup --instance ${identifier}`],
  );
}

function notFound(target: DatabaseTarget, region: string): SetupError {
  const what = target.kind === "cluster" ? "DB cluster" : "DB instance";
  const list =
    target.kind === "cluster"
      ? `aws rds describe-db-clusters --region ${region} --query "DBClusters[].DBClusterIdentifier"`
      : `aws rds describe-db-instances --region ${region} --query "DBInstances[].DBInstanceIdentifier"`;
  return new SetupError(`No ${what} ${target.identifier} in ${region}`, [
    `Check the name and the region (--region, or give the ARN). Those there: ${list}`,
  ]);
}

/** The description, once its stream is started and RDS has said where it goes. */
function checkStarted(kind: DatabaseKind, described: Described, region: string): StreamDescription {
  const arnParts = parseRdsArn(described.arn);
  const { name, engine, status, resourceId, kmsKeyId, kinesisStreamName } = described;
  const what = `${kind === "cluster" ? "Cluster" : "Instance"} ${name} (${engine})`;
  if (status !== "started") {
    throw new SetupError(`${what} has no activity stream started (its status: ${status ?? "none"})`, [
      ...unsupported(kind, engine),
      ...(status === "starting"
        ? ["It is starting: run setup again once it is started (this takes several minutes)."]
        : [
            `Start it: aws rds start-activity-stream --region ${region} --resource-arn ${described.arn} --mode async --kms-key-id <a KMS key of yours> --apply-immediately`,
            "then run setup again once it is started.",
          ]),
    ]);
  }
  if (
    arnParts === undefined ||
    resourceId === undefined ||
    kmsKeyId === undefined ||
    kinesisStreamName === undefined
  ) {
    throw new SetupError(
      `${what}: RDS did not give its ARN, resource id, activity stream KMS key and Kinesis stream`,
    );
  }
  const { arn, mode } = described;
  return { kind, name, arn, arnParts, engine, resourceId, mode, kmsKeyId, kinesisStreamName };
}

/** Why a database of this engine may have no stream at all. */
function unsupported(kind: DatabaseKind, engine: string): string[] {
  if (kind === "cluster" && !engine.startsWith("aurora")) {
    return [
      `Activity streams of a DB cluster are for Aurora (aurora-mysql, aurora-postgresql), not ${engine}.`,
    ];
  }
  if (kind === "instance" && !/^(oracle|sqlserver)/.test(engine)) {
    return [`Activity streams of a DB instance are for RDS for Oracle and SQL Server, not ${engine}.`];
  }
  return [];
}
