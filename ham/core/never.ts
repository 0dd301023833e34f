// Ends an exhaustive switch: a case left out is a type error, and at run time a loud one.
export function assertNever(value: never): never {
  throw new Error(`unhandled case ${JSON.stringify(value)}`);
}
