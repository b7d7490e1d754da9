// How a drop's Durable Objects are named, and the typed stubs for them: the one
// place that knows `drop:<id>` (the pacer), `drop:<id>:line:<k>` (its lines) and
// `drop:<id>:shard:<k>` (its inventory shards). A sale window has a pacer and lines
// of its own, named by its room key `<drop>~<window>` in place of the drop's id: neither
// a drop id nor a window id can hold "~", so no window's objects are another's.

/** The key of a line-and-pacer room: the drop's own (the general sale), or one sale window's. */
export const roomKey = (dropId: string, window?: string | null) => (window === undefined || window === null ? dropId : `${dropId}~${window}`);

export const roomName = (dropId: string) => `drop:${dropId}`;
export const lineName = (dropId: string, line: number) => `drop:${dropId}:line:${line}`;
export const shardName = (dropId: string, shard: number) => `drop:${dropId}:shard:${shard}`;

export const roomStub = (env: Pick<Env, "WAITING_ROOM">, dropId: string) => env.WAITING_ROOM.getByName(roomName(dropId));
export const lineStub = (env: Pick<Env, "WAITING_LINE">, dropId: string, line: number) => env.WAITING_LINE.getByName(lineName(dropId, line));
export const shardStub = (env: Pick<Env, "INVENTORY">, dropId: string, shard: number) => env.INVENTORY.getByName(shardName(dropId, shard));
