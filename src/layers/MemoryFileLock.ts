/**
 * Dot-locks held in memory, for the simulated host and the tests. Other
 * processes are simulated by holding a lock under their pid with `holdAs`.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { FileLock, type FileLockShape, type Holder, LockHeld } from "../services/FileLock.js"

const defaultCommand = () => ["node", "/usr/bin/cloudbackup-updater"]

export interface MemoryFileLock extends FileLockShape {
  /** Makes another (simulated) process hold `path`, written at `modifiedAt` (now by default). */
  readonly holdAs: (path: string, pid: number, modifiedAt?: number) => Effect.Effect<void>
  readonly drop: (path: string) => Effect.Effect<void>
  readonly held: Effect.Effect<ReadonlyMap<string, number>>
}

export interface MemoryFileLockOptions {
  readonly ownPid: number
  readonly livePids: (pid: number) => boolean
  /** The command line of a live pid; the updater's own name by default. */
  readonly commandOf?: (pid: number) => ReadonlyArray<string>
  /** When a live pid's process started (epoch ms); unknown by default. */
  readonly startedAtOf?: (pid: number) => number | undefined
}

interface Entry {
  readonly pid: number
  readonly modifiedAt: number
  /** Taken by this (simulated) process through `tryAcquire`, not put there by `holdAs`. */
  readonly ours: boolean
}

export const make = (options: MemoryFileLockOptions) =>
  Effect.gen(function*() {
    const locks = yield* Ref.make(new Map<string, Entry>())
    const update = (f: (map: Map<string, Entry>) => void) =>
      Ref.update(locks, (map) => {
        const next = new Map(map)
        f(next)
        return next
      })
    /** A lock naming our pid that we did not take was left by an earlier process with that pid. */
    const isLeftover = (entry: Entry) => entry.pid === options.ownPid && !entry.ours
    const describe = (entry: Entry): Holder => {
      const alive = options.livePids(entry.pid)
      return {
        pid: entry.pid,
        alive,
        command: alive ? (options.commandOf ?? defaultCommand)(entry.pid) : undefined,
        modifiedAt: entry.modifiedAt,
        startedAt: alive ? options.startedAtOf?.(entry.pid) : undefined
      }
    }
    const service: MemoryFileLock = {
      tryAcquire: (path) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const found = yield* Ref.modify(locks, (map): readonly [Entry | undefined, Map<string, Entry>] => {
            const entry = map.get(path)
            if (entry !== undefined && !isLeftover(entry)) return [entry, map]
            return [entry, new Map(map).set(path, { pid: options.ownPid, modifiedAt: now, ours: true })]
          })
          if (found === undefined) return
          if (!isLeftover(found)) return yield* new LockHeld({ path, pid: found.pid })
          yield* Effect.logWarning(
            `removed the stale lock ${path}: it named this process's own pid ${found.pid}, left by an earlier process with that pid`
          )
        }),
      release: (path) =>
        update((map) => {
          if (map.get(path)?.pid === options.ownPid) map.delete(path)
        }),
      holder: (path) =>
        Ref.get(locks).pipe(
          Effect.map((map) => Option.fromNullable(map.get(path)).pipe(Option.map(describe)))
        ),
      breakStale: (path, owns = (holder) => holder.alive) =>
        Ref.modify(locks, (map) => {
          const entry = map.get(path)
          if (entry === undefined || (entry.pid === options.ownPid && entry.ours)) return [false, map]
          if (!isLeftover(entry) && owns(describe(entry))) return [false, map]
          const next = new Map(map)
          next.delete(path)
          return [true, next]
        }),
      awaitChange: (path, poll) =>
        Effect.flatMap(Ref.get(locks), (map) => (map.has(path) ? Effect.sleep(Duration.decode(poll)) : Effect.void)),
      holdAs: (path, pid, modifiedAt) =>
        Effect.flatMap(
          modifiedAt === undefined ? Clock.currentTimeMillis : Effect.succeed(modifiedAt),
          (at) => update((map) => void map.set(path, { pid, modifiedAt: at, ours: false }))
        ),
      drop: (path) => update((map) => void map.delete(path)),
      held: Effect.map(Ref.get(locks), (map) => new Map([...map].map(([path, entry]) => [path, entry.pid])))
    }
    return service
  })

export const layer = (options: MemoryFileLockOptions): Layer.Layer<FileLock> =>
  Layer.effect(FileLock, make(options))
