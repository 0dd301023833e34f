// Where JSON.parse would fail in `text` (a character offset), for error messages that name
// the line: Node 20's JSON.parse errors do not always carry a position.
export function jsonErrorOffset(text: string): number {
  let at = 0;
  const space = () => {
    while (at < text.length && " \t\n\r".includes(text[at] ?? "")) at += 1;
  };
  const fail = (): never => {
    throw at;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, at)) at += word.length;
    else fail();
  };
  const string = () => {
    at += 1;
    while (at < text.length && text[at] !== '"') at += text[at] === "\\" ? 2 : 1;
    if (at >= text.length) fail();
    at += 1;
  };
  const value = (): void => {
    space();
    const char = text[at];
    if (char === "{") {
      at += 1;
      space();
      if (text[at] === "}") {
        at += 1;
        return;
      }
      for (;;) {
        space();
        if (text[at] !== '"') fail();
        string();
        space();
        if (text[at] !== ":") fail();
        at += 1;
        value();
        space();
        if (text[at] === ",") at += 1;
        else if (text[at] === "}") {
          at += 1;
          return;
        } else fail();
      }
    } else if (char === "[") {
      at += 1;
      space();
      if (text[at] === "]") {
        at += 1;
        return;
      }
      for (;;) {
        value();
        space();
        if (text[at] === ",") at += 1;
        else if (text[at] === "]") {
          at += 1;
          return;
        } else fail();
      }
    } else if (char === '"') string();
    else if (char === "t") literal("true");
    else if (char === "f") literal("false");
    else if (char === "n") literal("null");
    else {
      const match = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at));
      if (match === null) fail();
      at += match?.[0].length ?? 0;
    }
  };
  try {
    value();
    space();
    return at < text.length ? at : -1;
  } catch (offset) {
    return typeof offset === "number" ? offset : -1;
  }
}
