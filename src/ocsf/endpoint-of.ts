import { isIP } from "node:net";

/** The `network_endpoint` members a DAS event can fill. */
export interface Endpoint {
  ip?: string;
  hostname?: string;
  name?: string;
  port?: number;
  svc_name?: string;
  instance_uid?: string;
}

/** OCSF 1.1 `hostname_t` (dictionary regex): a DNS name, dotted labels of letters, digits and `-`. */
const HOSTNAME =
  /^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$/;

/**
 * Where a DAS host value goes: an IP address to `ip`; a client's DNS-shaped name (`localhost`,
 * `app-1.example.com`) to `hostname`; a server's name (an Aurora MySQL instance identifier, not a DNS
 * name) and anything else (`[local]`) to `name`. `undefined` for no host.
 */
export function endpointOf(host: string | undefined, side: "client" | "server"): Endpoint | undefined {
  if (host === undefined) return undefined;
  const value = host.trim();
  if (isIP(value) !== 0) return { ip: value };
  return side === "client" && HOSTNAME.test(value) ? { hostname: value } : { name: value };
}

/** A TCP port from a DAS `remotePort` (a string in every engine, null in SQL Server), or `undefined`. */
export function portOf(value: unknown): number | undefined {
  const text = typeof value === "number" ? String(value) : typeof value === "string" ? value.trim() : "";
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65_535 ? port : undefined;
}
