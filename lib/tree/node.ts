// What a /ham path resolves to (ham/view/browse.ts): a directory listing or a file's bytes.
// The view's server (fs/) and hamctl read these from the HAM's answers.

export interface DirEntry {
  readonly name: string;
  readonly type: "dir" | "file";
  // Byte length for files; 0 for directories.
  readonly size: number;
}

export type Node =
  | { readonly type: "dir"; readonly entries: readonly DirEntry[] }
  | { readonly type: "file"; readonly content: string };
