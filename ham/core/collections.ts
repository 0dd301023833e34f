import { createRequire } from "node:module";
import type * as Immutable from "immutable";

// The state's collections: an index by name (entities) and ordered lists (conditions, actions).

// An index by name that shares what did not change (a persistent Map): a change copies a few
// nodes, not the index, and the state before it stays as it was.
export type Index<V> = Immutable.Map<string, V>;
// Loaded as CommonJS: as an ES module, Node 20 took 32 ms and 12 MB of RSS to load it; as
// CommonJS, 9 ms and 2 MB (a HAM, and every Guardian waiting to take over, loads it).
const { Map: IMap, OrderedMap } = createRequire(import.meta.url)("immutable") as typeof Immutable;

// Conditions and actions by name, in the order they were made (they fire and run in it). A
// few (the usual case) are a plain Map, copied on a change: 10,000 entities × 3 conditions × 3
// actions take 32 MB of heap so, and 72 MB as immutable OrderedMaps. Past LARGE items they are
// an OrderedMap, so a change still costs the same with 3,000 (a Map copy of 2,000 conditions
// made each ham_condition 6.7× the echo).
const LARGE = 32;

export class Ordered<V> implements Iterable<[string, V]> {
  private constructor(private readonly items: ReadonlyMap<string, V> | Immutable.OrderedMap<string, V>) {}

  static of<V>(entries: Iterable<readonly [string, V]> = []): Ordered<V> {
    return Ordered.from(new Map(entries));
  }

  private static from<V>(items: Map<string, V>): Ordered<V> {
    return new Ordered(items.size > LARGE ? OrderedMap<string, V>(items) : items);
  }

  get size(): number {
    return this.items.size;
  }

  get(name: string): V | undefined {
    return this.items.get(name);
  }

  has(name: string): boolean {
    return this.items.has(name);
  }

  keys(): IterableIterator<string> {
    return this.items.keys();
  }

  values(): IterableIterator<V> {
    return this.items.values();
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.items.entries();
  }

  set(name: string, value: V): Ordered<V> {
    if (this.items instanceof Map) return Ordered.from(new Map(this.items).set(name, value));
    return new Ordered((this.items as Immutable.OrderedMap<string, V>).set(name, value));
  }

  delete(name: string): Ordered<V> {
    if (!this.items.has(name)) return this;
    if (!(this.items instanceof Map)) return new Ordered((this.items as Immutable.OrderedMap<string, V>).delete(name));
    const items = new Map(this.items);
    items.delete(name);
    return new Ordered(items);
  }

  map<W>(change: (value: V, name: string) => W): Ordered<W> {
    return Ordered.of([...this].map(([name, value]) => [name, change(value, name)] as const));
  }

  filter(keep: (value: V, name: string) => boolean): Ordered<V> {
    return Ordered.of([...this].filter(([name, value]) => keep(value, name)));
  }
}

export function ordered<V>(entries: Iterable<readonly [string, V]> = []): Ordered<V> {
  return Ordered.of(entries);
}

export function emptyIndex<V>(): Index<V> {
  return IMap<string, V>();
}

export function indexOf<V>(entries: Iterable<readonly [string, V]>): Index<V> {
  return IMap<string, V>(entries);
}

// An empty persistent Map with other keys (firings by id, queues by name).
export function emptyMap<K, V>(): Immutable.Map<K, V> {
  return IMap<K, V>();
}
