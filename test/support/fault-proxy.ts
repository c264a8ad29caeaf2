import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** The S3 operation a request is, read from its method, query and headers (path-style addressing). */
export type S3Operation =
  | "GetObject"
  | "HeadObject"
  | "ListObjects"
  | "PutObject"
  | "CopyObject"
  | "DeleteObject"
  | "CreateMultipartUpload"
  | "UploadPart"
  | "CompleteMultipartUpload"
  | "AbortMultipartUpload"
  | "PutObjectTagging"
  | "GetObjectTagging"
  | "Other";

export interface ProxiedRequest {
  readonly operation: S3Operation;
  readonly method: string;
  /** Path without the query, e.g. `/bucket/raw/key`. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage["headers"];
  /** 1-based count of requests of this operation so far, this one included. */
  readonly nth: number;
}

/** What the proxy does with one request. */
export type FaultAction =
  | { readonly kind: "pass" }
  /** Waits, then forwards. */
  | { readonly kind: "delay"; readonly ms: number }
  /** Answers with an S3 XML error without forwarding. */
  | { readonly kind: "fail"; readonly status: number; readonly code: string }
  /** Forwards, relays the response head and this many body bytes, then resets the connection. */
  | { readonly kind: "reset-after"; readonly bytes: number };

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_S3`. */
  readonly endpoint: string;
  /** Decides each request's fate; replace it at will (default: pass everything). */
  rule: (request: ProxiedRequest) => FaultAction;
  /** Every request seen, with the status the client got (`0`: connection reset). */
  readonly requests: (ProxiedRequest & { status: number })[];
  /** Multipart uploads created and never completed nor aborted (seen through the proxy). */
  danglingUploads(): string[];
  count(operation: S3Operation): number;
  stop(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of a local S3 server that injects faults per request, and
 * keeps the books of multipart uploads: which were created, completed and aborted (the local server
 * has no ListMultipartUploads, so this is how a test sees a dangling upload).
 */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const requests: (ProxiedRequest & { status: number })[] = [];
  const counts = new Map<S3Operation, number>();
  const created = new Set<string>();
  const finished = new Set<string>();
  const sockets = new Set<Socket>();

  const proxy: FaultProxy = {
    endpoint: "",
    rule: () => ({ kind: "pass" }),
    requests,
    danglingUploads: () => [...created].filter((id) => !finished.has(id)),
    count: (operation) => counts.get(operation) ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };

  const handle = async (incoming: IncomingMessage, response: ServerResponse) => {
    const url = new URL(incoming.url ?? "/", "http://proxy");
    const operation = classify(incoming.method ?? "GET", url, incoming.headers);
    counts.set(operation, (counts.get(operation) ?? 0) + 1);
    const seen = {
      operation,
      method: incoming.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: incoming.headers,
      nth: counts.get(operation) ?? 0,
      status: 0,
    };
    requests.push(seen);
    const action = proxy.rule(seen);
    if (action.kind === "fail") {
      for await (const _ of incoming) {
        // Drain the request body before answering, as S3 does.
      }
      seen.status = action.status;
      response.writeHead(action.status, { "content-type": "application/xml" });
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${action.code}</Code><Message>injected fault</Message></Error>`,
      );
      return;
    }
    if (action.kind === "delay") await new Promise((resolve) => setTimeout(resolve, action.ms));
    const outgoing = httpRequest({
      host: target.hostname,
      port: target.port,
      method: incoming.method,
      path: incoming.url,
      headers: incoming.headers,
    });
    outgoing.on("error", () => response.destroy());
    incoming.pipe(outgoing);
    const answer = await new Promise<IncomingMessage>((resolve) => outgoing.on("response", resolve));
    const status = answer.statusCode ?? 502;
    response.writeHead(status, answer.headers);
    let relayed = 0;
    const kept: Buffer[] = [];
    for await (const chunk of answer as AsyncIterable<Buffer>) {
      if (operation === "CreateMultipartUpload") kept.push(chunk);
      if (action.kind === "reset-after" && relayed + chunk.length >= action.bytes) {
        response.write(chunk.subarray(0, Math.max(0, action.bytes - relayed)));
        // Let the partial body reach the client, then cut the connection mid-body.
        await new Promise((resolve) => setTimeout(resolve, 20));
        answer.destroy();
        response.socket?.destroy();
        return;
      }
      relayed += chunk.length;
      response.write(chunk);
    }
    response.end();
    seen.status = status;
    if (status >= 300) return;
    const uploadId = url.searchParams.get("uploadId");
    if (operation === "CreateMultipartUpload") {
      const id = /<UploadId>([^<]+)<\/UploadId>/.exec(Buffer.concat(kept).toString("utf8"))?.[1];
      if (id !== undefined) created.add(id);
    } else if (
      uploadId !== null &&
      (operation === "CompleteMultipartUpload" || operation === "AbortMultipartUpload")
    ) {
      finished.add(uploadId);
    }
  };

  const server = createServer((incoming, response) => {
    handle(incoming, response).catch(() => response.destroy());
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(proxy, { endpoint: `http://127.0.0.1:${port}` });
}

function classify(method: string, url: URL, headers: IncomingMessage["headers"]): S3Operation {
  const query = url.searchParams;
  const hasKey = url.pathname.split("/").filter((part) => part !== "").length > 1;
  if (hasKey && query.has("tagging")) {
    if (method === "PUT") return "PutObjectTagging";
    if (method === "GET") return "GetObjectTagging";
  }
  if (method === "GET") return hasKey ? "GetObject" : "ListObjects";
  if (method === "HEAD") return hasKey ? "HeadObject" : "Other";
  if (method === "PUT" && hasKey) {
    if (query.has("uploadId") && query.has("partNumber")) return "UploadPart";
    return headers["x-amz-copy-source"] === undefined ? "PutObject" : "CopyObject";
  }
  if (method === "POST" && query.has("uploads")) return "CreateMultipartUpload";
  if (method === "POST" && query.has("uploadId")) return "CompleteMultipartUpload";
  if (method === "DELETE" && query.has("uploadId")) return "AbortMultipartUpload";
  if (method === "DELETE" && hasKey) return "DeleteObject";
  return "Other";
}
