/**
 * The host's files as the live layers see them: every path is a real host path
 * (`/etc/apt/...`) looked up under a root directory, which is `/` on a real host
 * and a throwaway directory in tests.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

export class HostFileError extends Data.TaggedError("HostFileError")<{
  readonly path: string
  readonly operation: string
  readonly detail: string
}> {
  override get message(): string {
    return `cannot ${this.operation} ${this.path}: ${this.detail}`
  }
}

export const underRoot = (root: string, hostPath: string): string => path.join(root, hostPath)

/** `EACCES: permission denied, open '/x'` → `permission denied`: the path is already in the error. */
const describeError = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  return /^[A-Z]+: ([^,]+)/.exec(message)?.[1] ?? message
}

const isMissing = (error: unknown): boolean => (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT"

const attempt = <A>(file: string, operation: string, run: () => Promise<A>): Effect.Effect<A, HostFileError> =>
  Effect.tryPromise({
    try: run,
    catch: (error) => new HostFileError({ path: file, operation, detail: describeError(error) })
  })

export const readTextIfExists = (file: string): Effect.Effect<Option.Option<string>, HostFileError> =>
  attempt(file, "read", () =>
    fs.readFile(file, "utf8").then(Option.some, (error) =>
      isMissing(error) ? Option.none() : Promise.reject(error)))

/** The names in a directory, sorted; none when the directory does not exist. */
export const listDirectoryIfExists = (dir: string): Effect.Effect<ReadonlyArray<string>, HostFileError> =>
  attempt(dir, "list", () =>
    fs.readdir(dir).then((names) => names.sort(), (error) => (isMissing(error) ? [] : Promise.reject(error))))

/** The permission bits of a file, e.g. 0o644: what a rewrite of it keeps. */
export const fileMode = (file: string): Effect.Effect<number, HostFileError> =>
  attempt(file, "read", () => fs.stat(file).then((stats) => stats.mode & 0o7777))

export const isDirectory = (file: string): Effect.Effect<boolean> =>
  Effect.promise(() => fs.stat(file).then((stats) => stats.isDirectory(), () => false))

const isExecutableFile = (file: string): Effect.Effect<boolean> =>
  Effect.promise(() => fs.stat(file).then((stats) => stats.isFile() && (stats.mode & 0o111) !== 0, () => false))

/** `mkdir -p`; a directory it creates gets exactly `mode`, whatever the umask. */
export const makeDirectory = (dir: string, mode: number): Effect.Effect<void, HostFileError> =>
  attempt(dir, "create directory", async () => {
    const firstCreated = await fs.mkdir(dir, { recursive: true, mode })
    if (firstCreated !== undefined) await fs.chmod(dir, mode)
  })

/** The file operations of an atomic write: a parameter so that tests can see the syncs and fail a step. */
export interface AtomicWriteFs {
  readonly open: (file: string, flags: string, mode?: number) => Promise<fs.FileHandle>
  readonly rename: (from: string, to: string) => Promise<void>
  readonly rm: (file: string, options: { readonly force: boolean }) => Promise<void>
}

/** Makes a rename in `dir` survive a crash; a file system that cannot sync directories is let be. */
const syncDirectory = async (files: AtomicWriteFs, dir: string): Promise<void> => {
  const handle = await files.open(dir, "r")
  try {
    await handle.sync().catch(() => undefined)
  } finally {
    await handle.close()
  }
}

const syncFile = async (files: AtomicWriteFs, file: string): Promise<void> => {
  const handle = await files.open(file, "r")
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * The one way a file is replaced: `stage` makes the new file at `staging`, in the same
 * directory, and leaves it synced to disk; it is renamed over `file` and the directory is
 * synced, so that a reader sees the old file or the new one, never a part, also after a
 * power loss. On failure `staging` is removed and `file` is as it was.
 */
const replaceFromStaging = <E, R>(
  files: AtomicWriteFs,
  file: string,
  staging: string,
  stage: Effect.Effect<void, E, R>,
  onFailure: (error: unknown) => E
): Effect.Effect<void, E, R> =>
  stage.pipe(
    Effect.zipRight(Effect.tryPromise({
      try: async () => {
        await files.rename(staging, file)
        await syncDirectory(files, path.dirname(file))
      },
      catch: onFailure
    })),
    // Where the staging file could not even be created (no such directory), removing it fails too.
    Effect.onError(() => Effect.promise(() => files.rm(staging, { force: true }).catch(() => undefined)))
  )

/**
 * Replaces `file` with `content`, atomically and durably. The content is staged in a
 * hidden temporary file, a name apt and dnf do not read.
 */
export const writeFileAtomicallyWith = (files: AtomicWriteFs) =>
(file: string, content: string, mode: number): Effect.Effect<void, HostFileError> =>
  Effect.suspend(() => {
    const temporary = path.join(
      path.dirname(file),
      `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`
    )
    const failure = (error: unknown) => new HostFileError({ path: file, operation: "write", detail: describeError(error) })
    const write = Effect.tryPromise({
      try: async () => {
        const handle = await files.open(temporary, "wx", mode)
        try {
          await handle.writeFile(content, "utf8")
          await handle.chmod(mode)
          await handle.sync()
        } finally {
          await handle.close()
        }
      },
      catch: failure
    })
    return replaceFromStaging(files, file, temporary, write, failure)
  })

export const writeFileAtomically: (file: string, content: string, mode: number) => Effect.Effect<void, HostFileError> =
  writeFileAtomicallyWith(fs)

/**
 * Replaces `file` with what `make` creates at `staging` (a copy, a program's output), the
 * same way as `writeFileAtomically`. `staging` must be in `file`'s directory; failures of
 * the file operations become `onFailure`'s errors.
 */
export const placeFileAtomically = <E, R>(options: {
  readonly file: string
  readonly staging: string
  readonly make: Effect.Effect<unknown, E, R>
  readonly onFailure: (error: unknown) => E
}): Effect.Effect<void, E, R> =>
  replaceFromStaging(
    fs,
    options.file,
    options.staging,
    Effect.zipRight(options.make, Effect.tryPromise({ try: () => syncFile(fs, options.staging), catch: options.onFailure })),
    options.onFailure
  )

/** The directories `PATH` names when the updater's environment has none. */
export const DEFAULT_SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/** The `PATH` that spawned programs are looked up in. */
export const processSearchPath = (): string => process.env["PATH"] ?? DEFAULT_SEARCH_PATH

/**
 * Where `name` would be found on `searchPath` under `root`, as a host path. Only
 * absolute directories count: a root-run updater does not look in relative ones.
 */
export const findExecutable = (
  root: string,
  name: string,
  searchPath: string
): Effect.Effect<Option.Option<string>> =>
  Effect.gen(function*() {
    for (const dir of searchPath.split(":").filter((entry) => entry.startsWith("/"))) {
      const hostPath = path.posix.join(dir, name)
      if (yield* isExecutableFile(underRoot(root, hostPath))) return Option.some(hostPath)
    }
    return Option.none()
  })
