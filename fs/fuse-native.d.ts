// The part of fuse-native 2.2.6 that fs/ uses (it ships no types).
declare module "fuse-native" {
  type Callback = (...args: unknown[]) => void;
  interface FuseOptions {
    readonly autoUnmount?: boolean;
    readonly attrTimeout?: number;
    readonly entryTimeout?: number;
    readonly uid?: number;
    readonly gid?: number;
    readonly fsname?: string;
    readonly force?: boolean;
    readonly allowOther?: boolean;
    readonly defaultPermissions?: boolean;
  }
  class Fuse {
    constructor(mnt: string, ops: Record<string, Callback>, opts?: FuseOptions);
    mount(cb: (error: Error | null) => void): void;
    unmount(cb: (error: Error | null) => void): void;
    static unmount(mnt: string, cb: (error: Error | null) => void): void;
    static readonly EROFS: number;
    static readonly ENOENT: number;
    static readonly EIO: number;
    static readonly EISDIR: number;
    static readonly ENOTDIR: number;
  }
  export = Fuse;
}
