import { HamError } from "../../lib/errors.js";
import {
  GLOBAL_DIR, renderAction, renderConditionInfo, renderEntityInfo, renderHamInfo, type TreeView,
} from "./render.js";
import type { EntityState as Entity } from "../core/state.js";
import { GROUPS_DIR, renderGroupInfo } from "./groups.js";
import { CHECKPOINTS_DIR, resolveCheckpointPath } from "./checkpoint-view.js";
import { NODES_DIR, resolveNodePath } from "./node-view.js";
import { unmetRequirements } from "../core/readiness.js";

// Resolves a /ham path to a directory listing or a file's bytes: the one place that maps
// paths to renderings, for `hamctl ls`/`cat` and the FUSE view alike.

export type { DirEntry, Node } from "../../lib/tree/node.js";
import type { DirEntry, Node } from "../../lib/tree/node.js";

const INFO = ".info";

export function splitTreePath(path: string): string[] {
  return path.split("/").filter((part) => part.length > 0);
}

function findEntity(view: TreeView, name: string): Entity | undefined {
  return name === GLOBAL_DIR ? view.global : view.entities.get(name);
}

function file(content: string): Node {
  return { type: "file", content };
}

function fileEntry(name: string, content: string): DirEntry {
  return { name, type: "file", size: Buffer.byteLength(content) };
}

// /ham/.groups/<group>/.info
function groupNode(view: TreeView, name: string | undefined, file2: string | undefined, extra: string | undefined, missing: () => HamError): Node {
  if (name === undefined) return { type: "dir", entries: [...view.groups.keys()].map((group) => ({ name: group, type: "dir", size: 0 })) };
  const group = view.groups.get(name);
  if (group === undefined || extra !== undefined) throw missing();
  if (file2 === undefined) return { type: "dir", entries: [fileEntry(INFO, renderGroupInfo(group, view.nodesKnown))] };
  if (file2 !== INFO) throw missing();
  return file(renderGroupInfo(group, view.nodesKnown));
}

// What a waiting entity's start waits for (its requirements not ready), for its .info.
function waitingFor(view: TreeView, entity: Entity): readonly string[] {
  if (!entity.run.waiting) return [];
  return unmetRequirements({ entity: (name) => view.entities.get(name) }, entity);
}

export function resolveTreePath(view: TreeView, path: string): Node {
  const parts = splitTreePath(path);
  const missing = () => new HamError("ENOENT", `no such item: /${parts.join("/")}`);
  if (parts.length === 0) {
    const entries: DirEntry[] = [fileEntry(INFO, renderHamInfo(view)), { name: GLOBAL_DIR, type: "dir", size: 0 }];
    if (view.groups.size > 0) entries.push({ name: GROUPS_DIR, type: "dir", size: 0 });
    if ((view.checkpoints?.size ?? 0) > 0) entries.push({ name: CHECKPOINTS_DIR, type: "dir", size: 0 });
    if (view.nodes !== undefined) entries.push({ name: NODES_DIR, type: "dir", size: 0 });
    for (const name of view.entities.keys()) entries.push({ name, type: "dir", size: 0 });
    return { type: "dir", entries };
  }
  if (parts[0] === CHECKPOINTS_DIR && view.checkpoints !== undefined && view.checkpoints.size > 0) return resolveCheckpointPath(view.checkpoints, parts.slice(1));
  const [entityName, second, third, extra] = parts as [string, string | undefined, string | undefined, string | undefined];
  if (entityName === INFO && second === undefined) return file(renderHamInfo(view));
  if (entityName === GROUPS_DIR) return groupNode(view, second, third, extra, missing);
  if (entityName === NODES_DIR && view.nodes !== undefined) return resolveNodePath(view.nodes, parts.slice(1), missing);
  const entity = findEntity(view, entityName);
  if (entity === undefined || extra !== undefined) throw missing();
  if (second === undefined) {
    const entries: DirEntry[] = [fileEntry(INFO, renderEntityInfo(entity, waitingFor(view, entity)))];
    for (const name of entity.conditions.keys()) entries.push({ name, type: "dir", size: 0 });
    return { type: "dir", entries };
  }
  if (second === INFO && third === undefined) return file(renderEntityInfo(entity, waitingFor(view, entity)));
  const condition = entity.conditions.get(second);
  if (condition === undefined) throw missing();
  if (third === undefined) {
    const entries: DirEntry[] = [fileEntry(INFO, renderConditionInfo(entity, condition))];
    for (const action of condition.actions.values()) {
      entries.push(fileEntry(action.name, renderAction(entity, condition, action)));
    }
    return { type: "dir", entries };
  }
  if (third === INFO) return file(renderConditionInfo(entity, condition));
  const action = condition.actions.get(third);
  if (action === undefined) throw missing();
  return file(renderAction(entity, condition, action));
}
