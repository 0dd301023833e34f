import { spawn } from "node:child_process";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { splitCommandLine } from "../lib/command-line.js";
import type { ProbeSpec } from "../lib/tree/types.js";

// One check of a probe: resolves null when it passed, else why it failed in a few words. It
// never rejects, and ends by `timeoutMs` (or when `signal` aborts it) with what it started
// (a connection, an exec probe's process group) ended too.

const BODY_LIMIT = 64 * 1024;

export function runCheck(spec: ProbeSpec, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<string | null> {
  return new Promise((resolve) => {
    let done = false;
    let cleanup = (): void => undefined;
    const finish = (error: string | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", aborted);
      cleanup();
      resolve(error);
    };
    const aborted = (): void => finish("stopped");
    const timer = setTimeout(() => finish(`timed out after ${spec.timeoutMs} ms`), spec.timeoutMs);
    signal.addEventListener("abort", aborted);
    switch (spec.kind) {
      case "tcp":
        cleanup = tcp(spec.host, spec.port, finish);
        break;
      case "http":
        cleanup = http(spec.url, spec.bodyContains, spec.bodyMatches, finish);
        break;
      case "exec":
        cleanup = exec(spec.command, env, finish);
        break;
    }
  });
}

function tcp(host: string, port: number, finish: (error: string | null) => void): () => void {
  const socket = connect({ host, port });
  socket.once("connect", () => finish(null));
  socket.once("error", (error: NodeJS.ErrnoException) => finish(`connect: ${error.code ?? error.message}`));
  return () => socket.destroy();
}

function http(url: string, contains: string | null, matches: string | null, finish: (error: string | null) => void): () => void {
  const request = (url.startsWith("https:") ? httpsRequest : httpRequest)(url, { method: "GET", agent: false });
  request.once("error", (error: NodeJS.ErrnoException) => finish(`GET: ${error.code ?? error.message}`));
  request.once("response", (response: IncomingMessage) => {
    const status = response.statusCode ?? 0;
    if (status < 200 || status > 399) {
      response.resume();
      finish(`HTTP ${status}`);
      return;
    }
    if (contains === null && matches === null) {
      response.resume();
      finish(null);
      return;
    }
    let body = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      if (body.length < BODY_LIMIT) body += chunk.slice(0, BODY_LIMIT - body.length);
    });
    response.once("error", (error) => finish(`GET: ${error.message}`));
    response.once("end", () => {
      if (contains !== null && !body.includes(contains)) finish(`HTTP ${status}, body does not contain ${JSON.stringify(contains)}`);
      else if (matches !== null && !new RegExp(matches).test(body)) finish(`HTTP ${status}, body does not match /${matches}/`);
      else finish(null);
    });
  });
  request.end();
  return () => request.destroy();
}

// No shell: the line is split as QNX does. The command runs in a process group of its own, so
// a timed-out check ends all it started.
function exec(line: string, env: NodeJS.ProcessEnv, finish: (error: string | null) => void): () => void {
  const [program = "", ...args] = splitCommandLine(line);
  const child = spawn(program, args, { stdio: "ignore", detached: true, env });
  child.once("error", (error: NodeJS.ErrnoException) => finish(`exec: ${error.code ?? error.message}`));
  child.once("exit", (code, signal) => finish(code === 0 ? null : signal !== null ? `killed by ${signal}` : `exit status ${code ?? "?"}`));
  return () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  };
}
