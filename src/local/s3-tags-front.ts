import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

/** A loopback front of an S3 server that answers object tagging itself. */
export interface S3TagsFront {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/**
 * Serves PutObjectTagging and GetObjectTagging (`?tagging`, path-style URLs) in memory and passes
 * every other request through to `upstream`, the local S3 server, which has no object tagging. As
 * on S3, a write of a new object (PutObject, CompleteMultipartUpload) or a delete drops its tags,
 * and tagging a missing object answers NoSuchKey. The function writes its output's counts as tags;
 * moto, whose S3 has tagging and versions, is what the tests prove that behaviour against.
 */
export async function startS3TagsFront(upstream: string): Promise<S3TagsFront> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  const tags = new Map<string, [string, string][]>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://local");
    const path = decodeURIComponent(url.pathname);
    if (url.searchParams.has("tagging") && path.split("/").length > 2) {
      void serveTagging(req, res, path).catch(() => fail(res, 500, "InternalError"));
      return;
    }
    const writesObject =
      (req.method === "PUT" && !url.searchParams.has("partNumber")) ||
      (req.method === "POST" && url.searchParams.has("uploadId")) ||
      (req.method === "DELETE" && !url.searchParams.has("uploadId"));
    const forward = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (answer) => {
        if (writesObject && (answer.statusCode ?? 500) < 300) tags.delete(path);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.on("error", () => res.destroy());
        answer.pipe(res);
      },
    );
    forward.on("error", () => {
      if (!res.headersSent) fail(res, 502, "BadGateway");
      else res.destroy();
    });
    req.on("error", () => forward.destroy());
    req.pipe(forward);
  });

  async function serveTagging(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (!(await exists(path))) return fail(res, 404, "NoSuchKey");
    if (req.method === "PUT") {
      const body = Buffer.concat(chunks).toString("utf8");
      const set: [string, string][] = [];
      for (const match of body.matchAll(/<Tag>\s*<Key>(.*?)<\/Key>\s*<Value>(.*?)<\/Value>\s*<\/Tag>/gs))
        set.push([unescapeXml(match[1] ?? ""), unescapeXml(match[2] ?? "")]);
      tags.set(path, set);
      res.writeHead(200).end();
      return;
    }
    if (req.method === "GET") {
      const set = (tags.get(path) ?? [])
        .map(([key, value]) => `<Tag><Key>${escapeXml(key)}</Key><Value>${escapeXml(value)}</Value></Tag>`)
        .join("");
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>${set}</TagSet></Tagging>`,
      );
      return;
    }
    if (req.method === "DELETE") {
      tags.delete(path);
      res.writeHead(204).end();
      return;
    }
    fail(res, 405, "MethodNotAllowed");
  }

  function exists(path: string): Promise<boolean> {
    return new Promise((resolve) => {
      const head = httpRequest(
        { host: target.hostname, port: target.port, method: "HEAD", path: encodePath(path), agent },
        (answer) => {
          answer.resume();
          resolve((answer.statusCode ?? 500) < 300);
        },
      );
      head.on("error", () => resolve(false));
      head.end();
    });
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

function fail(res: ServerResponse, status: number, code: string): void {
  res.writeHead(status, { "content-type": "application/xml" });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${code}</Message></Error>`,
  );
}

function encodePath(path: string): string {
  return path
    .split("/")
    .map((segment) => encodeURIComponent(segment))
    .join("/");
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}
