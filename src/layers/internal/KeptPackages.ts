/**
 * The agent packages the updater keeps for rollbacks, in
 * `/var/lib/cloudbackup-updater/packages/`, and the package managers' caches they
 * are copied from. Paths are host paths, looked up under `root`.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { isFileOf, keptFilesToDrop, type PackageFormat } from "../../domain/PackageFiles.js"
import { STATE_DIR } from "../../services/UpdaterConfig.js"
import { HostFileError, isDirectory, listDirectoryIfExists, makeDirectory, placeFileAtomically, underRoot } from "./HostFiles.js"

export const KEPT_PACKAGES_DIR = `${STATE_DIR}/packages`

/** The first file of `version` in any of `dirs` (host paths), as a host path. */
export const findPackageFile = (root: string, format: PackageFormat, dirs: ReadonlyArray<string>, version: string) =>
  Effect.gen(function*() {
    for (const dir of dirs) {
      const name = (yield* listDirectoryIfExists(underRoot(root, dir))).find((entry) => isFileOf(format, entry, version))
      if (name !== undefined) return Option.some(path.posix.join(dir, name))
    }
    return Option.none<string>()
  })

export const findKept = (root: string, format: PackageFormat, version: string) =>
  findPackageFile(root, format, [KEPT_PACKAGES_DIR], version)

/** `tail` under each directory one level below `parent` (dnf's and yum's per-repository caches). */
export const subdirectories = (root: string, parent: string, tail: string) =>
  Effect.gen(function*() {
    const found: Array<string> = []
    for (const name of yield* listDirectoryIfExists(underRoot(root, parent))) {
      const dir = path.posix.join(parent, name)
      if (yield* isDirectory(underRoot(root, dir))) found.push(path.posix.join(dir, tail))
    }
    return found
  })

/** Copies a package file among the kept ones (complete or not at all), returning the kept host path. */
export const keep = (root: string, hostFile: string) =>
  Effect.gen(function*() {
    yield* makeDirectory(underRoot(root, KEPT_PACKAGES_DIR), 0o700)
    const target = path.posix.join(KEPT_PACKAGES_DIR, path.posix.basename(hostFile))
    const staging = `${underRoot(root, target)}.partial`
    const failure = (error: unknown) =>
      new HostFileError({ path: hostFile, operation: "keep a copy of", detail: (error as NodeJS.ErrnoException).code ?? String(error) })
    yield* placeFileAtomically({
      file: underRoot(root, target),
      staging,
      make: Effect.tryPromise({ try: () => fs.copyFile(underRoot(root, hostFile), staging), catch: failure }),
      onFailure: failure
    })
    return target
  })

/**
 * Keeps a copy of each of `versions` found in the package manager's cache `dirs` (host paths)
 * that is not kept yet, and drops the kept packages of any other version.
 */
export const keepFromCache = (
  root: string,
  format: PackageFormat,
  versions: ReadonlyArray<string>,
  dirs: Effect.Effect<ReadonlyArray<string>, HostFileError>
) =>
  Effect.gen(function*() {
    for (const version of versions) {
      if (Option.isSome(yield* findKept(root, format, version))) continue
      const cached = yield* findPackageFile(root, format, yield* dirs, version)
      if (Option.isSome(cached)) yield* keep(root, cached.value)
    }
    yield* dropOthers(root, format, versions)
  })

/** Removes the kept packages of versions other than `versions`, and any partial copy. */
export const dropOthers = (root: string, format: PackageFormat, versions: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const names = yield* listDirectoryIfExists(underRoot(root, KEPT_PACKAGES_DIR))
    const drop = [...keptFilesToDrop(format, names, versions), ...names.filter((name) => name.endsWith(".partial"))]
    yield* Effect.forEach(drop, (name) =>
      Effect.tryPromise({
        try: () => fs.rm(underRoot(root, path.posix.join(KEPT_PACKAGES_DIR, name)), { force: true }),
        catch: (error) => new HostFileError({ path: name, operation: "remove", detail: String(error) })
      }), { discard: true })
  })
