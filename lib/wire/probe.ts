import { existsSync } from "node:fs";
import { connect } from "node:net";

// Whether a server accepts connections on the Unix socket at `path` (a socket file alone
// proves nothing: its server may be dead, or bound but not yet listening).
export function socketAnswers(path: string): Promise<boolean> {
  if (!existsSync(path)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
