import * as fs from "node:fs/promises"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { rebuild } from "../../../../src/layers/packageManagers/apt/DebRepack.js"
import type { CommandResult, ShellShape } from "../../../../src/services/Shell.js"
import { hostFileExists, listHostDirectory, onHost, tempRoot, writeHostFile } from "../../../support/TempRoot.js"

const STATUS = [
  "Package: driveclient",
  "Status: install ok installed",
  "Architecture: amd64",
  "Version: 1.1.0-1",
  "Conffiles:",
  " /etc/driveclient/driveclient.conf 0123456789abcdef0123456789abcdef",
  "Description: Cloud Backup agent",
  ""
].join("\n")

const LIST = ["/.", "/etc", "/etc/driveclient", "/etc/driveclient/driveclient.conf", "/usr", "/usr/sbin", "/usr/sbin/driveclient", "/usr/sbin/dc", "/usr/share/gone"]

const ok = (stdout = ""): CommandResult => ({ exitCode: 0, stdout, stderr: "" })

/**
 * dpkg-query answering for the installed agent (`status` as its `-s`), and a dpkg-deb that
 * records what the build tree held when it ran and writes the package.
 */
const dpkgTools = (
  root: string,
  seen: Array<{ argv: ReadonlyArray<string>; tree: Record<string, string> }>,
  status = STATUS,
  dpkgDeb: CommandResult = ok()
): ShellShape => ({
  run: (argv) =>
    Effect.promise(async (): Promise<CommandResult> => {
      if (argv[0] === "dpkg-query") {
        if (argv[1] === "-s") return ok(status)
        if (argv[1] === "-L") return ok(`${LIST.join("\n")}\n`)
        if (argv[1] === "--control-path") return ok("/var/lib/dpkg/info/driveclient.postinst\n")
        return { exitCode: 2, stdout: "", stderr: "dpkg-query: unexpected\n" }
      }
      const [, , dir, out] = argv
      const tree: Record<string, string> = {}
      const walk = async (at: string): Promise<void> => {
        for (const entry of await fs.readdir(onHost(root, at), { withFileTypes: true })) {
          const hostPath = path.posix.join(at, entry.name)
          if (entry.isDirectory()) await walk(hostPath)
          else if (entry.isSymbolicLink()) tree[hostPath.slice(dir!.length)] = `-> ${await fs.readlink(onHost(root, hostPath))}`
          else tree[hostPath.slice(dir!.length)] = await fs.readFile(onHost(root, hostPath), "utf8")
        }
      }
      await walk(dir!)
      seen.push({ argv, tree })
      if (dpkgDeb.exitCode === 0) await fs.writeFile(onHost(root, out!), "deb")
      return dpkgDeb
    })
})

const installedAgent = (root: string) =>
  Effect.gen(function*() {
    yield* writeHostFile(root, "/var/lib/dpkg/info/driveclient.postinst", "#!/bin/sh\nexit 0\n", 0o755)
    yield* writeHostFile(root, "/etc/driveclient/driveclient.conf", "changed by the administrator\n")
    yield* writeHostFile(root, "/usr/sbin/driveclient", "#!/bin/sh\n", 0o755)
    yield* Effect.promise(() => fs.symlink("driveclient", onHost(root, "/usr/sbin/dc")))
  })

describe("DebRepack.rebuild", () => {
  it.scoped("builds the installed files, control data and maintainer scripts into the kept packages", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      yield* installedAgent(root)
      const seen: Array<{ argv: ReadonlyArray<string>; tree: Record<string, string> }> = []
      const built = yield* rebuild(root, dpkgTools(root, seen), "1.1.0-1")
      const output = "/var/lib/cloudbackup-updater/packages/driveclient_1.1.0-1_amd64.deb"
      expect(built).toEqual(Option.some(output))
      expect(seen).toHaveLength(1)
      expect(seen[0]!.argv).toEqual(["dpkg-deb", "--build", expect.stringMatching(/^\/var\/lib\/cloudbackup-updater\/packages\/\.rebuild-\d+$/), `${output}.partial`])
      const tree = seen[0]!.tree
      expect(tree["/DEBIAN/control"]).toBe(
        "Package: driveclient\nArchitecture: amd64\nVersion: 1.1.0-1\nDescription: Cloud Backup agent\n"
      )
      expect(tree["/DEBIAN/postinst"]).toBe("#!/bin/sh\nexit 0\n")
      expect(tree["/DEBIAN/conffiles"]).toBe("/etc/driveclient/driveclient.conf\n")
      // The administrator's changes are kept, as dpkg-repack keeps them.
      expect(tree["/etc/driveclient/driveclient.conf"]).toBe("changed by the administrator\n")
      expect(tree["/usr/sbin/dc"]).toBe("-> driveclient")
      expect(Object.keys(tree)).not.toContain("/usr/share/gone")
      // The build tree is gone; only the package is left.
      expect(yield* listHostDirectory(root, "/var/lib/cloudbackup-updater/packages")).toEqual(["driveclient_1.1.0-1_amd64.deb"])
    }))

  it.scoped("keeps modes of the installed files", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      yield* installedAgent(root)
      let mode = 0
      const tools = dpkgTools(root, [])
      const shell: ShellShape = {
        run: (argv, options) =>
          argv[0] === "dpkg-deb"
            ? Effect.promise(async () => {
              mode = (await fs.stat(onHost(root, `${argv[2]}/usr/sbin/driveclient`))).mode & 0o7777
              await fs.writeFile(onHost(root, argv[3]!), "deb")
              return ok()
            })
            : tools.run(argv, options)
      }
      yield* rebuild(root, shell, "1.1.0-1")
      expect(mode).toBe(0o755)
    }))

  it.scoped.each([
    ["another version is installed", STATUS, "1.0.0-1"],
    ["the package is half-configured", STATUS.replace("install ok installed", "install ok half-configured"), "1.1.0-1"]
  ])("nothing is built when %s", ([, status, version]) =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      yield* installedAgent(root)
      const seen: Array<{ argv: ReadonlyArray<string>; tree: Record<string, string> }> = []
      expect(yield* rebuild(root, dpkgTools(root, seen, status), version)).toEqual(Option.none())
      expect(seen).toEqual([])
      expect(yield* hostFileExists(root, "/var/lib/cloudbackup-updater/packages")).toBe(false)
    }))

  it.scoped("a failing dpkg-deb is a one-line error, and no build tree is left", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      yield* installedAgent(root)
      const shell = dpkgTools(root, [], STATUS, { exitCode: 2, stdout: "", stderr: "dpkg-deb: error: no space left on device\n" })
      const error = yield* Effect.flip(rebuild(root, shell, "1.1.0-1"))
      expect(error.message).toBe("rebuild the driveclient package failed: dpkg-deb: error: no space left on device")
      expect(yield* listHostDirectory(root, "/var/lib/cloudbackup-updater/packages")).toEqual([])
    }))

  it.scoped("a directory the host has made a symlink (/lib on merged /usr) is built as the directory the package shipped", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      yield* installedAgent(root)
      yield* writeHostFile(root, "/usr/lib/systemd/system/driveclient.service", "[Unit]\n")
      yield* Effect.promise(() => fs.symlink("usr/lib", onHost(root, "/lib")))
      const seen: Array<{ argv: ReadonlyArray<string>; tree: Record<string, string> }> = []
      const shell = dpkgTools(root, seen)
      const withLib: ShellShape = {
        run: (argv, options) =>
          argv[0] === "dpkg-query" && argv[1] === "-L"
            ? Effect.succeed(ok(`${[...LIST, "/lib", "/lib/systemd", "/lib/systemd/system", "/lib/systemd/system/driveclient.service"].join("\n")}\n`))
            : shell.run(argv, options)
      }
      yield* rebuild(root, withLib, "1.1.0-1")
      expect(seen[0]!.tree["/lib/systemd/system/driveclient.service"]).toBe("[Unit]\n")
    }))

  it.scoped("a conffile the administrator deleted is left out of DEBIAN/conffiles, and a kill leaves no half-built package", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      yield* installedAgent(root)
      yield* Effect.promise(() => fs.rm(onHost(root, "/etc/driveclient/driveclient.conf")))
      yield* writeHostFile(root, "/var/lib/cloudbackup-updater/packages/.rebuild-1/DEBIAN/control", "left by a killed updater\n")
      const seen: Array<{ argv: ReadonlyArray<string>; tree: Record<string, string> }> = []
      yield* rebuild(root, dpkgTools(root, seen), "1.1.0-1")
      expect(seen[0]!.tree["/DEBIAN/conffiles"]).toBeUndefined()
      expect(yield* listHostDirectory(root, "/var/lib/cloudbackup-updater/packages")).toEqual(["driveclient_1.1.0-1_amd64.deb"])
    }))
})
