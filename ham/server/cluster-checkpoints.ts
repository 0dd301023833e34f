import { CKPT_LIMIT_SECTION_BYTES } from "../../lib/checkpoint-limits.js";
import { HamError } from "../../lib/errors.js";
import { ClusterCheckpoints, type Header, type ReadHeader } from "../cluster/checkpoints.js";
import type { Membership } from "../cluster/membership.js";
import { askedLimits, bytesAfterWrite, checkSameLimits, decodedSize, withDefaults } from "../core/checkpoints/checkpoints.js";
import type { ReplyTo } from "../core/events.js";
import { Args } from "../core/specs.js";
import type { ServerContext } from "./context.js";

// Checkpoints of a cross-node group (issue 17): `ckpt_*` with `group` in their arguments. Their
// bytes live in etcd (cluster/checkpoints.ts), not in the core's state: the core stays pure and
// its shared state small, and the standby's node reads them after the active's node is gone.
// Answered asynchronously (a promise, as a remote call). Checks and limits are the core's
// (core/checkpoints/checkpoints.ts); what is new here: the group must be a cross-node group of
// this node (EINVAL), and only the node holding its election writes (EPERM, fenced in etcd).

const OPS: ReadonlySet<string> = new Set(["ckpt_open", "ckpt_write", "ckpt_read", "ckpt_delete", "ckpt_sections", "ckpt_unlink"]);
// The header travels with each write (≤ 1 MiB of section): with it, one transaction stays under
// etcd's 1.5 MiB request limit.
const MOST_HEADER_BYTES = 256 * 1024;
// A HAM that took over joins the cluster in the background: a request waits this long for it.
const JOIN_WAIT_MS = 3_000;

export function isGroupCheckpointRequest(op: string, args: unknown): boolean {
  if (!OPS.has(op) || typeof args !== "object" || args === null) return false;
  const group = (args as { group?: unknown }).group;
  return group !== undefined && group !== null;
}

// One per membership (a HAM that rejoins has a new one); it keeps the answers' lease.
const stores = new WeakMap<Membership, ClusterCheckpoints>();

async function storeOf(ham: ServerContext): Promise<ClusterCheckpoints> {
  if (ham.options.cluster === null) throw new HamError("EINVAL", "a checkpoint of a group across nodes needs a cluster (ham --node NAME --etcd URL)");
  const since = ham.clock.mono();
  while (ham.membership === null) {
    if (ham.clock.mono() - since > JOIN_WAIT_MS) throw new HamError("ETIMEDOUT", `this HAM has not joined cluster ${ham.options.cluster.name} yet`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const membership = ham.membership;
  let store = stores.get(membership);
  if (store === undefined) {
    store = new ClusterCheckpoints(membership.etcd, membership.options.cluster, membership.options.node, () => ham.clock.mono());
    stores.set(membership, store);
  }
  return store;
}

// The group's fencing token on this node (null: it does not hold the election), or EINVAL for a
// group that is not a cross-node group of this node.
function tokenOf(ham: ServerContext, group: string): string | null {
  const state = ham.state.groups.get(group);
  if (state?.cluster === undefined) {
    const node = ham.options.cluster?.node ?? "?";
    throw new HamError("EINVAL", `group ${group} is not a group across nodes with a member on node ${node}: its checkpoints cannot be kept in etcd`);
  }
  return state.cluster.token;
}

function target(read: ReadHeader | null, name: string, id: number): ReadHeader {
  if (read === null || read.id !== id) throw new HamError("EIDRM", `checkpoint ${name} was unlinked`);
  return read;
}

function sectionsOf(header: Header): Array<{ name: string; size: number; writtenMs: number }> {
  return Object.entries(header.sections).map(([name, { size, writtenMs }]) => ({ name, size, writtenMs })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function sized(header: Header): Header {
  if (Buffer.byteLength(JSON.stringify(header)) > MOST_HEADER_BYTES) throw new HamError("ENOSPC", `the checkpoint's list of sections would pass ${MOST_HEADER_BYTES} bytes`);
  return header;
}

export async function groupCheckpointRequest(ham: ServerContext, op: string, rawArgs: unknown, to: ReplyTo | null): Promise<unknown> {
  const args = new Args(rawArgs);
  const group = args.name("group", "group");
  const name = args.name("name", "checkpoint");
  const token = tokenOf(ham, group);
  const store = await storeOf(ham);
  const fence = { token, request: to };
  switch (op) {
    case "ckpt_open": {
      const asked = askedLimits(args.raw("limits"));
      // Checked again here: the local limit may one day pass what one etcd request carries.
      if ((asked.maxSectionBytes ?? 0) > CKPT_LIMIT_SECTION_BYTES) throw new HamError("EINVAL", `maxSectionBytes of a group's checkpoint is at most ${CKPT_LIMIT_SECTION_BYTES} (etcd's request limit)`);
      const { read, created } = await store.open(group, name, () => ({ limits: withDefaults(asked), createdMs: ham.clock.wall(), bytes: 0, sections: {} }));
      if (!created) checkSameLimits(name, read.header.limits, asked);
      return { name, id: read.id, limits: read.header.limits, created, group };
    }
    case "ckpt_write": {
      const id = args.int("id");
      const section = args.name("section", "section");
      const data = Buffer.from(args.string("data"), "base64");
      const size = decodedSize(args.string("data"));
      return store.mutate(group, name, fence, op, (read) => {
        const { header } = target(read, name, id);
        const bytes = bytesAfterWrite({ name, limits: header.limits, bytes: header.bytes }, Object.keys(header.sections).length, header.sections[section]?.size ?? null, size);
        const next = sized({ ...header, bytes, sections: { ...header.sections, [section]: { size, writtenMs: ham.clock.wall() } } });
        return { header: next, ops: [{ kind: "put", key: store.sectionKey(group, name, section), value: data, lease: "0" }] };
      });
    }
    case "ckpt_delete": {
      const id = args.int("id");
      const section = args.name("section", "section");
      return store.mutate(group, name, fence, op, (read) => {
        const { header } = target(read, name, id);
        const found = header.sections[section];
        if (found === undefined) throw new HamError("ENOENT", `no section ${section} in checkpoint ${name}`);
        const sections = Object.fromEntries(Object.entries(header.sections).filter(([other]) => other !== section));
        return { header: { ...header, bytes: header.bytes - found.size, sections }, ops: [{ kind: "delete", key: store.sectionKey(group, name, section), prefix: false }] };
      });
    }
    case "ckpt_unlink":
      return store.mutate(group, name, fence, op, (read) => {
        if (read === null) throw new HamError("ENOENT", `no checkpoint ${name} of group ${group}`);
        return { header: null, ops: [{ kind: "delete", key: store.headerKey(group, name), prefix: false }, { kind: "delete", key: `${store.headerKey(group, name)}/s/`, prefix: true }] };
      });
    case "ckpt_read": {
      const id = args.int("id");
      const section = args.name("section", "section");
      const { header, bytes } = await store.section(group, name, section);
      target(header, name, id);
      if (bytes === null) throw new HamError("ENOENT", `no section ${section} in checkpoint ${name}`);
      return bytes.toString("base64");
    }
    case "ckpt_sections": {
      const { header } = target(await store.header(group, name), name, args.int("id"));
      return { sections: sectionsOf(header), bytes: header.bytes, limits: header.limits };
    }
    default:
      throw new HamError("EINVAL", `unknown operation ${op}`);
  }
}
