import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

// One read-only HTTP path (the Prometheus endpoint, `ham --metrics`): GET or HEAD of `path`
// answers `answer()`, any other path 404, any other method 405. Nothing a client sends changes
// the HAM. Listening uses Node's default SO_REUSEADDR, so a HAM that takes over binds the port a
// killed HAM held even while its connections sit in TIME_WAIT.

export interface Answer {
  readonly contentType: string;
  readonly body: Buffer;
}

export interface HttpEndpoint {
  // The port bound (the one asked for).
  readonly port: number;
  close(): void;
}

export interface EndpointHooks {
  answer(): Promise<Answer>;
  // A request that could not be answered (500 sent), or an error of the listening socket.
  failed(error: unknown): void;
}

// Resolves once listening; rejects with the listen error (EADDRINUSE, EACCES, EADDRNOTAVAIL...).
export function listenHttp(host: string, port: number, path: string, hooks: EndpointHooks): Promise<HttpEndpoint> {
  const server = createServer((request, response) => void respond(request, response, path, hooks));
  // A scraper holds its connection open between scrapes (keep-alive): a HAM stopping must not wait for it.
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    const refused = (error: Error) => reject(error);
    server.once("error", refused);
    server.listen({ host, port }, () => {
      server.off("error", refused);
      // Not a reason to end the HAM (a side failure): told, and the next scrape tries again.
      server.on("error", (error) => hooks.failed(error));
      // The HAM's own timers decide when it exits, not a scraper's connection.
      server.unref();
      resolve({
        port,
        close: () => {
          server.close();
          server.closeAllConnections();
        },
      });
    });
  });
}

async function respond(request: IncomingMessage, response: ServerResponse, path: string, hooks: EndpointHooks): Promise<void> {
  response.on("error", () => undefined);
  const url = (request.url ?? "/").split("?")[0];
  if (url !== path) {
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end(`not found: try ${path}\n`);
    return;
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("method not allowed\n");
    return;
  }
  try {
    const answer = await hooks.answer();
    response.writeHead(200, { "content-type": answer.contentType, "content-length": answer.body.length });
    response.end(request.method === "HEAD" ? undefined : answer.body);
  } catch (error) {
    hooks.failed(error);
    if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
    response.end(`${String(error).split("\n")[0]}\n`);
  }
}
