/// <reference lib="dom" />
/**
 * The on-disk layout of `IndexedDBStorageBackend` (schema version 2) and the
 * code that opens it. Every key is an array starting with the room id, so one
 * database serves many rooms and every per-room read is a key range.
 *
 * Version 2 adds the `runs` store (each sender's own runs, see the storage
 * kit's own-runs.ts); opening a version-1 database creates it from the
 * `broadcasts` store in the upgrade transaction. Nothing else changed.
 */
import { type DBSchema, type IDBPDatabase, type IDBPTransaction, wrap } from 'idb';
import { MessageBusError } from '../../core/errors.js';
import type { Audience, RoutingDecision } from '../../core/types.js';
import { type OwnRun, RunBuilder, type StoredMember } from '../kit/index.js';

export const NAME = 'indexeddb';
/** Bump with a migration in `upgrade` when the layout below changes. */
export const SCHEMA_VERSION = 2;

/** One row per room: the counters every append reads and writes in its transaction. */
export interface RoomRow {
  lastId: number;
  oldestId: number;
  /** Bumped on every join and leave: broadcasts of one epoch share one stored member list (`audiences`). */
  epoch: number;
  /** The epoch whose audience is stored in `audiences`, or -1. */
  audienceEpoch: number;
  /** Bumped on every membership change (join, leave, online, groups): `getMembers` caches by it. */
  memberVersion: number;
}

export interface MessageRow {
  id: number;
  timestamp: number;
  sender: string;
  /** The content as JSON text: cheaper to clone into IndexedDB than an object graph. */
  contentJson: string;
  routing: RoutingDecision;
  idempotencyKey?: string;
  audience: Audience;
  /** `list` audience only: the recipients (sorted). */
  recipients?: string[];
  /** `members*` audiences only: the membership epoch whose audience applies. */
  epoch?: number;
}

/** The broadcast index: small rows a fetch walks instead of message rows. */
export interface BroadcastRow {
  id: number;
  epoch: number;
  /** The sender for a `members-except-sender` audience, else `null`. */
  except: string | null;
}

export interface BusSchema extends DBSchema {
  rooms: { key: string; value: RoomRow };
  members: { key: [string, string]; value: StoredMember };
  messages: { key: [string, number]; value: MessageRow };
  /** Per-recipient index of `list` messages: key [room, agent, id], value the id. */
  deliveries: { key: [string, string, number]; value: number };
  broadcasts: { key: [string, number]; value: BroadcastRow };
  /** Member ids (sorted) of one membership epoch. */
  audiences: { key: [string, number]; value: string[] };
  /** key [room, sender, idempotencyKey], value the message id. */
  idempotency: { key: [string, string, string]; value: number };
  /** Version 2. Each sender's own runs: key [room, sender, first id], value the run. */
  runs: { key: [string, string, number]; value: OwnRun };
}

export type StoreName = 'rooms' | 'members' | 'messages' | 'deliveries' | 'broadcasts' | 'audiences' | 'idempotency' | 'runs';
export type BusDatabase = IDBPDatabase<BusSchema>;
export type BusTransaction<Mode extends IDBTransactionMode = IDBTransactionMode> = IDBPTransaction<BusSchema, StoreName[], Mode>;

/** The stores of schema version 1; version 2 added `runs`. */
const V1_STORES: StoreName[] = ['rooms', 'members', 'messages', 'deliveries', 'broadcasts', 'audiences', 'idempotency'];
export const ALL_STORES: StoreName[] = [...V1_STORES, 'runs'];

/** What `openBusDatabase` reports when the connection later goes away. */
export interface ConnectionEvents {
  /** Another context wants a newer version (or deletes the database): this connection has been closed. */
  onVersionChange(): void;
  /** The browser closed the connection (storage cleared, disk error). */
  onTerminated(): void;
}

/**
 * Opens (and on first use creates) the database through an injected factory.
 * `openDB` from idb always uses the global `indexedDB`, so this wraps the open
 * request itself. A blocked upgrade rejects at once with `STORAGE_FAILURE`
 * instead of waiting for the other tabs forever; the late connection, if it
 * ever opens, is closed.
 */
export function openBusDatabase(
  factory: IDBFactory,
  dbName: string,
  events: ConnectionEvents,
  version: number = SCHEMA_VERSION,
): Promise<BusDatabase> {
  return new Promise<BusDatabase>((resolve, reject) => {
    let settled = false;
    let request: IDBOpenDBRequest;
    try {
      request = factory.open(dbName, version);
    } catch (error) {
      reject(failure('open', error, dbName));
      return;
    }
    request.addEventListener('upgradeneeded', (event) => {
      try {
        upgrade(request.result, request.transaction as IDBTransaction, event.oldVersion, dbName);
      } catch (error) {
        request.transaction?.abort();
        settled = true;
        reject(failure('upgrade', error, dbName));
      }
    });
    request.addEventListener('blocked', (event) => {
      if (settled) return;
      settled = true;
      reject(
        new MessageBusError(
          'STORAGE_FAILURE',
          `[${NAME}] opening database "${dbName}" at version ${version} is blocked: another tab holds version ${event.oldVersion} open and does not close it. Close or reload the other tabs of this site, then retry.`,
          { details: { reason: 'blocked', currentVersion: event.oldVersion } },
        ),
      );
    });
    wrap(request).then(
      (db) => {
        const database = db as unknown as BusDatabase;
        if (settled) {
          database.close();
          return;
        }
        settled = true;
        const missing = ALL_STORES.filter((store) => !database.objectStoreNames.contains(store));
        if (missing.length > 0) {
          database.close();
          reject(foreignDatabase(dbName, database.version, missing));
          return;
        }
        const raw = request.result;
        raw.addEventListener('versionchange', () => {
          raw.close();
          events.onVersionChange();
        });
        raw.addEventListener('close', () => events.onTerminated());
        resolve(database);
      },
      (error) => {
        if (settled) return;
        settled = true;
        reject(failure('open', error, dbName));
      },
    );
  });
}

/** Turns a DOMException (quota, abort, version) into `STORAGE_FAILURE` carrying the browser's reason; typed errors pass through. */
export function failure(operation: string, error: unknown, dbName: string): MessageBusError {
  if (MessageBusError.is(error)) return error;
  const name =
    error instanceof Error || (typeof error === 'object' && error !== null && 'name' in error) ? String((error as Error).name) : 'Error';
  const reason =
    error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)
      ? String((error as Error).message)
      : String(error);
  return new MessageBusError(
    'STORAGE_FAILURE',
    `[${NAME}] ${operation} on database "${dbName}" failed: ${name}${reason ? `: ${reason}` : ''}${hintFor(name)}`,
    {
      cause: error,
      details: { reason: name },
    },
  );
}

// --- internal helpers ---

function upgrade(db: IDBDatabase, tx: IDBTransaction, oldVersion: number, dbName: string): void {
  const missing = V1_STORES.filter((store) => !db.objectStoreNames.contains(store));
  // Another program's database of that name: leave it as it is (the upgrade transaction is aborted).
  if (oldVersion >= 1 && missing.length > 0) throw foreignDatabase(dbName, oldVersion, missing);
  if (oldVersion < 1) {
    // Out-of-line array keys everywhere: rows stay small and every per-room read is one key range.
    for (const store of ['rooms', 'members', 'messages', 'deliveries', 'broadcasts', 'audiences', 'idempotency'])
      db.createObjectStore(store);
  }
  if (oldVersion < 2) {
    const runs = db.createObjectStore('runs');
    if (oldVersion >= 1) backfillRuns(tx.objectStore('broadcasts'), runs);
  }
}

/**
 * Version 1 → 2: builds every sender's own runs from the broadcast index, in
 * key order (room, then id), with the storage kit's `RunBuilder`. Runs inside
 * the upgrade transaction, so a failure leaves the database at version 1.
 */
function backfillRuns(broadcasts: IDBObjectStore, runs: IDBObjectStore): void {
  const builder = new RunBuilder((room, sender, run) => runs.put(run, [room, sender, run.first]));
  const request = broadcasts.openCursor();
  request.onsuccess = () => {
    const cursor = request.result;
    if (!cursor) return builder.finish();
    const row = cursor.value as BroadcastRow;
    builder.add((cursor.key as [string, number])[0], { id: row.id, excluded: row.except });
    cursor.continue();
  };
}

function foreignDatabase(dbName: string, version: number, missing: readonly string[]): MessageBusError {
  return new MessageBusError(
    'STORAGE_FAILURE',
    `[${NAME}] database "${dbName}" exists at version ${version} but lacks the stores ${missing.join(', ')}: another program uses this name. Pass another dbName.`,
    { details: { reason: 'foreign-database' } },
  );
}

function hintFor(name: string): string {
  switch (name) {
    case 'QuotaExceededError':
      return ' (the origin is out of storage quota: nothing of this operation was stored; lower maxMessages, clear old rooms, or request navigator.storage.persist())';
    case 'VersionError':
      return ' (the database was created by a newer version of this library: upgrade the library or use another dbName)';
    case 'InvalidStateError':
      return ' (the connection is closing or closed: reload the page)';
    default:
      return '';
  }
}
