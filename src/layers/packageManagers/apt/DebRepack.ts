/**
 * Rebuilds the installed agent's `.deb` from what dpkg knows of it, as dpkg-repack
 * does: its files as they are on disk (changed conffiles included), its control
 * data and conffiles from `dpkg-query -s`, and its maintainer scripts from
 * `dpkg-query --control-path`. The last way back when no package of the installed
 * version can be had otherwise.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AGENT_PACKAGE } from "../../../domain/Agent.js"
import { installedControl } from "../../../domain/DpkgStatus.js"
import { PackageManagerError } from "../../../services/PackageManager.js"
import type { ShellShape } from "../../../services/Shell.js"
import { placeFileAtomically, underRoot } from "../../internal/HostFiles.js"
import { KEPT_PACKAGES_DIR } from "../../internal/KeptPackages.js"
import { C_LOCALE_ENV, packageCommands, QUERY_TIMEOUT } from "../../internal/PackageCommands.js"

const BUILD_TIMEOUT = Duration.minutes(10)

const OPERATION = `rebuild the ${AGENT_PACKAGE} package`

const failure = (detail: string) => new PackageManagerError({ operation: OPERATION, detail })

/**
 * Copies one installed path into the build tree with its type, mode and owner; a missing one is
 * skipped. `asDirectory`: the package has files below it, so it shipped a directory there even
 * where the host has a symlink now (`/lib` on a merged-/usr host).
 */
const copyEntry = async (from: string, to: string, asDirectory = false): Promise<void> => {
  const stats = await (asDirectory ? fs.stat(from) : fs.lstat(from)).catch(() => undefined)
  if (stats === undefined) return
  if (stats.isDirectory()) {
    await fs.mkdir(to, { recursive: true })
  } else if (stats.isSymbolicLink()) {
    await fs.mkdir(path.dirname(to), { recursive: true })
    await fs.symlink(await fs.readlink(from), to)
  } else if (stats.isFile()) {
    await fs.mkdir(path.dirname(to), { recursive: true })
    await fs.copyFile(from, to)
  } else {
    return
  }
  await fs.lchown(to, stats.uid, stats.gid)
  if (!stats.isSymbolicLink()) await fs.chmod(to, stats.mode & 0o7777)
}

/** Build trees that a killed updater left behind. */
const removeLeftBuilds = (root: string) =>
  Effect.promise(async () => {
    const dir = underRoot(root, KEPT_PACKAGES_DIR)
    const names = await fs.readdir(dir).catch(() => [] as Array<string>)
    for (const name of names.filter((entry) => entry.startsWith(".rebuild-"))) {
      await fs.rm(path.join(dir, name), { recursive: true, force: true })
    }
  })

/** The lines of a dpkg-query that lists paths. */
const paths = (stdout: string): ReadonlyArray<string> => stdout.split("\n").map((line) => line.trim()).filter((line) => line.startsWith("/"))

/** `/var/lib/dpkg/info/driveclient.postinst` (or `driveclient:amd64.postinst`) → `postinst`. */
const controlKind = (file: string): string => path.posix.basename(file).replace(/^[^.]*\./, "")

/** Builds `driveclient_<version>_<arch>.deb` among the kept packages; none when dpkg does not hold `version` installed. */
export const rebuild = (root: string, shell: ShellShape, version: string) =>
  Effect.gen(function*() {
    const dpkg = packageCommands(shell, C_LOCALE_ENV)
    const query = (...args: Array<string>) =>
      dpkg.runChecked(OPERATION, ["dpkg-query", ...args, AGENT_PACKAGE], QUERY_TIMEOUT).pipe(
        Effect.map((result) => result.stdout)
      )
    const status = yield* query("-s").pipe(Effect.option)
    const installed = Option.isSome(status) ? installedControl(status.value, AGENT_PACKAGE) : undefined
    if (installed === undefined || installed.version !== version) return Option.none<string>()
    const files = paths(yield* query("-L")).filter((entry) => entry !== "/.")
    const parents = new Set(files.map((entry) => path.posix.dirname(entry)))
    const controlFiles = paths(yield* query("--control-path"))
    yield* removeLeftBuilds(root)

    const buildDir = path.posix.join(KEPT_PACKAGES_DIR, `.rebuild-${process.pid}`)
    const output = path.posix.join(
      KEPT_PACKAGES_DIR,
      `${AGENT_PACKAGE}_${version.replace(/:/g, "%3a")}_${installed.architecture}.deb`
    )
    const tree = underRoot(root, buildDir)
    return yield* Effect.gen(function*() {
      yield* Effect.tryPromise({
        try: async () => {
          await fs.rm(tree, { recursive: true, force: true })
          await fs.mkdir(path.join(tree, "DEBIAN"), { recursive: true, mode: 0o755 })
          // dpkg-deb wants exactly 0755 here, whatever the umask.
          await fs.chmod(path.join(tree, "DEBIAN"), 0o755)
          for (const entry of files) await copyEntry(underRoot(root, entry), path.join(tree, entry), parents.has(entry))
          for (const file of controlFiles) await copyEntry(underRoot(root, file), path.join(tree, "DEBIAN", controlKind(file)))
          await fs.writeFile(path.join(tree, "DEBIAN/control"), installed.control, { mode: 0o644 })
          // A conffile the administrator deleted is not in the tree, and dpkg-deb refuses to list it.
          const conffiles = []
          for (const file of installed.conffiles) {
            if (await fs.lstat(path.join(tree, file)).then(() => true, () => false)) conffiles.push(file)
          }
          if (conffiles.length > 0) {
            await fs.writeFile(path.join(tree, "DEBIAN/conffiles"), conffiles.map((file) => `${file}\n`).join(""), {
              mode: 0o644
            })
          }
        },
        catch: (error) => failure(String(error))
      })
      // Built aside and renamed into place: a killed build never leaves a kept package that is not whole.
      const partial = `${output}.partial`
      yield* placeFileAtomically({
        file: underRoot(root, output),
        staging: underRoot(root, partial),
        make: dpkg.runChecked(OPERATION, ["dpkg-deb", "--build", buildDir, partial], BUILD_TIMEOUT),
        onFailure: (error) => failure(String(error))
      })
      return Option.some(output)
    }).pipe(Effect.ensuring(Effect.promise(() => fs.rm(tree, { recursive: true, force: true }))))
  })
