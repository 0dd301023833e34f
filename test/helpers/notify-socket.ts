import { beforeAll, describe } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { eventually } from "./ham-instance.js";

// A stand-in for systemd's notify socket: a unix datagram socket bound by a small python3
// program (Node has none), writing each datagram it reads as one line of a file:
// `<ms since the epoch> <its NAME=VALUE lines joined by |>`. Reading a datagram without its
// ancillary data closes the descriptor systemd-notify's BARRIER=1 carries, as systemd does.

const RECEIVER = `
import socket, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
f = open(out, "a")
f.write("%d bound\\n" % (time.time() * 1000)); f.flush()
while True:
    data = s.recv(65536)
    f.write("%d %s\\n" % (time.time() * 1000, "|".join(data.decode("utf-8", "replace").strip().split("\\n")))); f.flush()
`;

const has = (command: string): boolean => spawnSync(command, ["--version"], { stdio: "ignore" }).error === undefined;

// What is missing for these tests here, or null.
export const NO_NOTIFY: string | null = !has("python3") ? "python3 is not installed" : !has("systemd-notify") ? "systemd-notify is not installed" : null;
// HAMD_REQUIRE_NOTIFY=1 (set by .ci/run): a missing python3 or systemd-notify fails instead of skipping.
export const REQUIRE_NOTIFY = process.env["HAMD_REQUIRE_NOTIFY"] === "1";
const skipLine = (problem: string) => `skipped: ${problem}. Install: apt-get install systemd python3 (HAMD_REQUIRE_NOTIFY=1 fails instead)`;

export function describeWithNotify(name: string, body: () => void): void {
  const problem = NO_NOTIFY;
  if (problem === null) describe(name, body);
  else if (REQUIRE_NOTIFY) {
    describe(name, () => {
      beforeAll(() => {
        throw new Error(`HAMD_REQUIRE_NOTIFY=1 but ${problem}: apt-get install systemd python3`);
      });
      body();
    });
  } else {
    console.warn(`${name}: ${skipLine(problem)}`);
    describe.skip(`${name} (${skipLine(problem)})`, body);
  }
}

export interface Message {
  readonly at: number;
  readonly fields: ReadonlyMap<string, string>;
  readonly text: string;
}

export interface NotifySocket {
  readonly path: string;
  // Every message so far, in the order read, without systemd-notify's BARRIER=1.
  messages(): Message[];
  // The first message after `from` (an index into messages()) that has NAME=VALUE (or NAME).
  waitFor(field: string, from?: number, timeoutMs?: number): Promise<{ index: number; message: Message }>;
  close(): void;
}

export async function bindNotifySocket(dir: string): Promise<NotifySocket> {
  const path = join(dir, "notify.sock");
  const out = join(dir, "notify.log");
  const receiver: ChildProcess = spawn("python3", ["-c", RECEIVER, path, out], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  receiver.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  await eventually(() => {
    if (receiver.exitCode !== null) throw new Error(`the receiver exited: ${stderr}`);
    return existsSync(out) && readFileSync(out, "utf8").includes("bound");
  }, 20_000, "the notify socket bound");
  const messages = (): Message[] => readFileSync(out, "utf8").split("\n").filter((line) => line !== "" && !line.endsWith(" bound")).map((line) => {
    const space = line.indexOf(" ");
    const text = line.slice(space + 1);
    const fields = new Map(text.split("|").map((pair) => [pair.split("=")[0] ?? "", pair.slice(pair.indexOf("=") + 1)] as const));
    return { at: Number(line.slice(0, space)), fields, text };
  }).filter((message) => !message.fields.has("BARRIER"));
  const matches = (message: Message, field: string): boolean => {
    const [name = "", value] = field.split("=");
    return message.fields.has(name) && (value === undefined || message.fields.get(name) === value);
  };
  return {
    path,
    messages,
    waitFor: (field, from = 0, timeoutMs = 15_000) => eventually(() => {
      const all = messages();
      const index = all.findIndex((message, i) => i >= from && matches(message, field));
      const message = all[index];
      return message === undefined ? null : { index, message };
    }, timeoutMs, `${field} on the notify socket`),
    close: () => {
      if (receiver.exitCode === null) receiver.kill("SIGKILL");
    },
  };
}
