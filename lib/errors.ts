import { constants } from "node:os";

// Errno names a HamError may carry; each has the meaning QNX gives it for the same call.
export type HamErrorCode =
  | "EBADF"
  | "EEXIST"
  | "EINVAL"
  | "ENAMETOOLONG"
  | "ENOENT"
  | "ENOMEM"
  | "ETIMEDOUT"
  | "EPERM"
  | "ESRCH"
  | "EBUSY"
  | "EMSGSIZE"
  | "ENOTSUP"
  | "EIO"
  | "E2BIG"
  | "ENOSPC"
  | "EIDRM"
  | "ECANCELED"
  // A node of the cluster that is down (or never joined): ham_*_node calls to it.
  | "EHOSTDOWN";

const codes: ReadonlySet<string> = new Set<HamErrorCode>([
  "EBADF", "EEXIST", "EINVAL", "ENAMETOOLONG", "ENOENT", "ENOMEM", "ETIMEDOUT",
  "EPERM", "ESRCH", "EBUSY", "EMSGSIZE", "ENOTSUP", "EIO", "E2BIG", "ENOSPC", "EIDRM", "ECANCELED", "EHOSTDOWN",
]);

export function isHamErrorCode(value: unknown): value is HamErrorCode {
  return typeof value === "string" && codes.has(value);
}

// Linux's EHOSTDOWN, which Node's os.constants.errno does not list.
const EHOSTDOWN = 112;

export class HamError extends Error {
  readonly code: HamErrorCode;
  readonly errno: number;

  constructor(code: HamErrorCode, message: string, options?: ErrorOptions) {
    super(`${code}: ${message}`, options);
    this.name = "HamError";
    this.code = code;
    this.errno = code === "EHOSTDOWN" ? EHOSTDOWN : constants.errno[code];
  }
}
