/** Throwaway root directories standing in for `/` in the live layers' tests. */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"

/** A fresh empty directory, removed with everything in it when the scope closes. */
export const tempRoot = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "cloudbackup-updater-test-"))),
  (root) => Effect.promise(() => fs.rm(root, { recursive: true, force: true }))
)

export const onHost = (root: string, hostPath: string): string => path.join(root, hostPath)

export const writeHostFile = (root: string, hostPath: string, content: string, mode = 0o644) =>
  Effect.promise(async () => {
    const file = onHost(root, hostPath)
    await fs.mkdir(path.dirname(file), { recursive: true })
    await fs.writeFile(file, content)
    await fs.chmod(file, mode)
  })

export const makeHostDirectory = (root: string, hostPath: string) =>
  Effect.promise(() => fs.mkdir(onHost(root, hostPath), { recursive: true }))

/** An executable stand-in for a program, so that PATH lookups find it. */
export const writeHostProgram = (root: string, hostPath: string) => writeHostFile(root, hostPath, "#!/bin/sh\n", 0o755)

export const readHostFile = (root: string, hostPath: string) =>
  Effect.promise(() => fs.readFile(onHost(root, hostPath), "utf8"))

/** Permission bits of a host file, e.g. 0o644. */
export const modeOf = (root: string, hostPath: string) =>
  Effect.promise(() => fs.stat(onHost(root, hostPath)).then((stats) => stats.mode & 0o7777))

export const listHostDirectory = (root: string, hostPath: string) =>
  Effect.promise(() => fs.readdir(onHost(root, hostPath)).then((names) => names.sort()))

export const hostFileExists = (root: string, hostPath: string) =>
  Effect.promise(() => fs.access(onHost(root, hostPath)).then(() => true, () => false))
