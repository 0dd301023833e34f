// The replies a server already sent, by the client's token and request id, so a request sent
// again (after its connection dropped) is answered with the same reply instead of being run
// twice. Only the last `keep` ids of each token are kept. One copy for the HAM (whose journal
// also keeps them across a takeover) and for the cover library's message servers.
export class ReplyMemory {
  private readonly byToken = new Map<string, Map<number, unknown>>();

  constructor(private readonly keep = 64) {}

  recall(token: string, id: number): unknown {
    return this.byToken.get(token)?.get(id);
  }

  // Remembers a reply; returns the id it stopped remembering to make room, or null.
  remember(token: string, id: number, reply: unknown): number | null {
    let replies = this.byToken.get(token);
    if (replies === undefined) this.byToken.set(token, (replies = new Map()));
    replies.set(id, reply);
    return replies.delete(id - this.keep) ? id - this.keep : null;
  }

  // Forgets a token (its client is gone for good); returns the ids it held.
  forget(token: string): number[] {
    const ids = [...(this.byToken.get(token)?.keys() ?? [])];
    this.byToken.delete(token);
    return ids;
  }

  *entries(): Iterable<[string, number]> {
    for (const [token, replies] of this.byToken) for (const id of replies.keys()) yield [token, id];
  }

  get tokens(): number {
    return this.byToken.size;
  }
}
