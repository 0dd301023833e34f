import { checkName } from "../names.js";
import {
  checkHandle, pathArgs, placeOfNd, requestConnected, type ham_action_t, type ham_condition_t,
} from "./handles.js";
import { HamError } from "../errors.js";
import { placeOfNode } from "./session.js";

// Actions and fail-actions. `nd`/`nodename` of notify actions name the node where the
// target runs: only the local node exists.

type Spec = Record<string, unknown>;

function localNd(nd: number): number {
  placeOfNd(nd);
  return 0;
}

function localNode(nodename: string | null): number {
  if (placeOfNode(nodename).node !== null) throw new HamError("EINVAL", `a notify action reaches a process of its HAM's own node only, not of ${String(nodename)}`);
  return 0;
}

async function addAction(chdl: ham_condition_t, aname: string, kind: string, spec: Spec, flags: number): Promise<ham_action_t> {
  const condition = checkHandle(chdl, "condition");
  checkName(aname, "action");
  await requestConnected(condition, "action", { ...pathArgs(condition), aname, kind, ...spec, flags });
  return { kind: "action", runDir: condition.runDir, node: condition.node, ename: condition.ename, cname: condition.cname, aname, freed: false };
}

const later = <T>(run: () => Promise<T>): Promise<T> => Promise.resolve().then(run);

export const ham_action_restart = (chdl: ham_condition_t, aname: string, path: string, flags = 0) =>
  later(() => addAction(chdl, aname, "restart", { line: path }, flags));
export const ham_action_execute = (chdl: ham_condition_t, aname: string, path: string, flags = 0) =>
  later(() => addAction(chdl, aname, "execute", { line: path }, flags));
export const ham_action_waitfor = (chdl: ham_condition_t, aname: string, path: string | null, delay: number, flags = 0) =>
  later(() => addAction(chdl, aname, "waitfor", { path, delay }, flags));
export const ham_action_notify_pulse = (
  chdl: ham_condition_t, aname: string, nd: number, topid: number, chid: number, pulsecode: number, value: number, flags = 0,
) => later(() => addAction(chdl, aname, "pulse", { nd: localNd(nd), pid: topid, chid, code: pulsecode, value }, flags));
export const ham_action_notify_pulse_node = (
  chdl: ham_condition_t, aname: string, nodename: string | null, topid: number, chid: number, pulsecode: number, value: number, flags = 0,
) => later(() => addAction(chdl, aname, "pulse", { nd: localNode(nodename), pid: topid, chid, code: pulsecode, value }, flags));
export const ham_action_notify_signal = (
  chdl: ham_condition_t, aname: string, nd: number, topid: number, signum: number | string, code: number, value: number, flags = 0,
) => later(() => addAction(chdl, aname, "signal", { nd: localNd(nd), pid: topid, signal: signum, code, value }, flags));
export const ham_action_notify_signal_node = (
  chdl: ham_condition_t, aname: string, nodename: string | null, topid: number, signum: number | string, code: number, value: number, flags = 0,
) => later(() => addAction(chdl, aname, "signal", { nd: localNode(nodename), pid: topid, signal: signum, code, value }, flags));
export const ham_action_heartbeat_healthy = (chdl: ham_condition_t, aname: string, flags = 0) =>
  later(() => addAction(chdl, aname, "healthy", {}, flags));
export const ham_action_log = (
  chdl: ham_condition_t, aname: string, msg: string, attachprefix: number | boolean, verbosity: number, flags = 0,
) => later(() => addAction(chdl, aname, "log", { message: msg, prefix: Boolean(attachprefix), verbosity }, flags));

export async function ham_action_remove(ahdl: ham_action_t, _flags = 0): Promise<number> {
  const action = checkHandle(ahdl, "action");
  return Number(await requestConnected(action, "action_remove", pathArgs(action)));
}

async function addFail(ahdl: ham_action_t, fname: string, kind: string, spec: Spec, flags: number): Promise<number> {
  const action = checkHandle(ahdl, "action");
  checkName(fname, "fail-action");
  return Number(await requestConnected(action, "action_fail", { ...pathArgs(action), fname, kind, ...spec, flags }));
}

export const ham_action_fail_execute = (ahdl: ham_action_t, aname: string, path: string, flags = 0) =>
  later(() => addFail(ahdl, aname, "execute", { line: path }, flags));
export const ham_action_fail_waitfor = (ahdl: ham_action_t, aname: string, path: string | null, delay: number, flags = 0) =>
  later(() => addFail(ahdl, aname, "waitfor", { path, delay }, flags));
export const ham_action_fail_notify_pulse = (
  ahdl: ham_action_t, aname: string, nd: number, topid: number, chid: number, pulsecode: number, value: number, flags = 0,
) => later(() => addFail(ahdl, aname, "pulse", { nd: localNd(nd), pid: topid, chid, code: pulsecode, value }, flags));
export const ham_action_fail_notify_pulse_node = (
  ahdl: ham_action_t, aname: string, nodename: string | null, topid: number, chid: number, pulsecode: number, value: number, flags = 0,
) => later(() => addFail(ahdl, aname, "pulse", { nd: localNode(nodename), pid: topid, chid, code: pulsecode, value }, flags));
export const ham_action_fail_notify_signal = (
  ahdl: ham_action_t, aname: string, nd: number, topid: number, signum: number | string, code: number, value: number, flags = 0,
) => later(() => addFail(ahdl, aname, "signal", { nd: localNd(nd), pid: topid, signal: signum, code, value }, flags));
export const ham_action_fail_notify_signal_node = (
  ahdl: ham_action_t, aname: string, nodename: string | null, topid: number, signum: number | string, code: number, value: number, flags = 0,
) => later(() => addFail(ahdl, aname, "signal", { nd: localNode(nodename), pid: topid, signal: signum, code, value }, flags));
export const ham_action_fail_log = (
  ahdl: ham_action_t, aname: string, message: string, attachprefix: number | boolean, verbosity: number, flags = 0,
) => later(() => addFail(ahdl, aname, "log", { message, prefix: Boolean(attachprefix), verbosity }, flags));

export async function ham_action_fail_remove(ahdl: ham_action_t, aname: string, _flags = 0): Promise<number> {
  const action = checkHandle(ahdl, "action");
  checkName(aname, "fail-action");
  return Number(await requestConnected(action, "action_fail_remove", { ...pathArgs(action), fname: aname }));
}
