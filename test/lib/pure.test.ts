import { describe, expect, it } from "vitest";
import { splitCommandLine } from "../../dist/lib/command-line.js";
import { joinCommandLine } from "../../dist/lib/command-line.js";
import { encodeFrame, FrameDecoder } from "../../dist/lib/wire/frame.js";
import { checkName } from "../../dist/lib/names.js";

describe("command-line splitting (QNX §5.10)", () => {
  it("splits the QNX example with quoted path and argument", () => {
    expect(splitCommandLine(`'path with space' arg1 arg2 "arg3 with space"`)).toEqual(["path with space", "arg1", "arg2", "arg3 with space"]);
  });
  it("collapses runs of whitespace and keeps empty quoted tokens", () => {
    expect(splitCommandLine("  /bin/echo   a\t\tb '' ")).toEqual(["/bin/echo", "a", "b", ""]);
  });
  it("rejects an unterminated quote and an empty line with EINVAL", () => {
    expect(() => splitCommandLine(`/bin/echo "oops`)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => splitCommandLine("   ")).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });
  it("round-trips argv through hamctl's joining", () => {
    const argv = ["/bin/echo", "two words", `it's`, `say "hi"`, ""];
    expect(splitCommandLine(joinCommandLine(argv))).toEqual(argv);
  });
});

describe("wire frames", () => {
  it("reassembles frames split at every byte boundary", () => {
    const bytes = Buffer.concat([encodeFrame({ a: 1 }), encodeFrame({ b: "é" })]);
    const decoder = new FrameDecoder(1024);
    const values = [];
    for (const byte of bytes) for (const frame of decoder.push(Buffer.from([byte]))) values.push(frame);
    expect(values).toEqual([{ kind: "message", value: { a: 1 } }, { kind: "message", value: { b: "é" } }]);
  });
  it("decodes a 1.4 MB frame fed in 64 KB chunks, with the next frame's start in its last chunk", () => {
    const data = "x".repeat(1_400_000);
    const bytes = Buffer.concat([encodeFrame({ data }), encodeFrame({ next: 1 }), encodeFrame({ after: 2 }).subarray(0, 3)]);
    const decoder = new FrameDecoder(2 * 1024 * 1024);
    const values = [];
    for (let offset = 0; offset < bytes.length; offset += 65_536) values.push(...decoder.push(bytes.subarray(offset, offset + 65_536)));
    expect(values).toEqual([{ kind: "message", value: { data } }, { kind: "message", value: { next: 1 } }]);
    expect(decoder.push(encodeFrame({ after: 2 }).subarray(3))).toEqual([{ kind: "message", value: { after: 2 } }]);
  });
  it("skips an oversize frame and keeps decoding what follows", () => {
    const decoder = new FrameDecoder(16);
    const big = encodeFrame({ text: "x".repeat(100) });
    const frames = decoder.push(Buffer.concat([big, encodeFrame({ ok: true })]));
    expect(frames).toEqual([{ kind: "oversize", length: big.length - 4 }, { kind: "message", value: { ok: true } }]);
  });
  it("reports malformed JSON without losing the stream", () => {
    const bad = Buffer.from("{nope");
    const header = Buffer.alloc(4);
    header.writeUInt32BE(bad.length);
    const frames = new FrameDecoder(64).push(Buffer.concat([header, bad, encodeFrame(7)]));
    expect(frames[0]?.kind).toBe("malformed");
    expect(frames[1]).toEqual({ kind: "message", value: 7 });
  });
});

describe("names", () => {
  it("accepts ordinary names and rejects /, leading dots and > 255 bytes", () => {
    expect(checkName("inetd", "entity")).toBe("inetd");
    expect(() => checkName("a/b", "entity")).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => checkName(".hidden", "entity")).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => checkName("é".repeat(128), "entity")).toThrow(expect.objectContaining({ code: "ENAMETOOLONG" }));
    expect(checkName("x".repeat(255), "entity")).toHaveLength(255);
  });
});
