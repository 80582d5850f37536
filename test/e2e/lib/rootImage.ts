/**
 * Root images: a Debian 12 tree per kind, built once by build-root.sh (mmdebstrap), cached as a
 * tarball under .cache/roots/ and extracted there into a base tree that overlays use as their
 * read-only lower layer. The cache key hashes everything the build reads, so editing the build
 * script rebuilds the image. The host's node binary is copied into the base tree.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { execOk } from "./exec.js"
import { CACHE_DIR, E2E_DIR, IN_ROOT, SCRIPTS_DIR } from "./paths.js"

export type RootKind = "apt" | "rpm" | "zypper" | "systemd" | "systemd-rpm" | MatrixKind

/** The kinds only the platform matrix uses (matrix.test.ts): other Debian releases, Debian's own nodejs. */
export type MatrixKind = "debian11" | "debian12-nodejs" | "debian13-nodejs" | "rpm-nodejs"
export const MATRIX_KINDS: ReadonlyArray<MatrixKind> = ["debian11", "debian12-nodejs", "debian13-nodejs", "rpm-nodejs"]

/** The kinds that have systemd to boot (lib/booted.ts). */
export const BOOTABLE_KINDS: ReadonlyArray<RootKind> = ["systemd", "systemd-rpm"]

export interface RootImage {
  readonly kind: RootKind
  readonly tarball: string
  /** Extracted tree; never written to while mounted. */
  readonly baseDir: string
}

const ROOTS_DIR = path.join(CACHE_DIR, "roots")
const HOST_NODE = "/usr/bin/node"

const imageInputs = async (): Promise<string[]> => {
  const fixtures = path.join(E2E_DIR, "fixtures", "roots")
  const names = (await fs.readdir(fixtures)).sort().map((name) => path.join(fixtures, name))
  return [path.join(SCRIPTS_DIR, "build-root.sh"), ...names]
}

const imageKey = async (kind: RootKind): Promise<string> => {
  const hash = createHash("sha256").update(`${kind}\n${process.env["E2E_DEBIAN_MIRROR"] ?? ""}\n`)
  for (const file of await imageInputs()) hash.update(`${path.basename(file)}\n`).update(await fs.readFile(file))
  return hash.digest("hex").slice(0, 16)
}

const exists = (file: string) => fs.access(file).then(() => true, () => false)

/**
 * Removes cached images of `kind` other than `keep` (older keys). A name is the kind's only when
 * the key follows the kind's name at once: "systemd-rpm-<key>" is not a "systemd" image.
 */
const pruneOld = async (kind: RootKind, keep: string) => {
  const ofKind = new RegExp(`^${kind}-[0-9a-f]{16}(?:\\.|$)`)
  for (const name of await fs.readdir(ROOTS_DIR)) {
    if (ofKind.test(name) && !name.startsWith(keep)) {
      await fs.rm(path.join(ROOTS_DIR, name), { recursive: true, force: true })
    }
  }
}

/** Copies the host's node into the base tree unless the same file is already there. */
const installNode = async (baseDir: string) => {
  const target = path.join(baseDir, IN_ROOT.node)
  const [host, copied] = await Promise.all([fs.stat(HOST_NODE), fs.stat(target).catch(() => undefined)])
  if (copied !== undefined && copied.size === host.size && copied.mtimeMs === host.mtimeMs) return
  await fs.mkdir(path.dirname(target), { recursive: true })
  await fs.copyFile(HOST_NODE, target)
  await fs.chmod(target, 0o755)
  await fs.utimes(target, host.atime, host.mtime)
}

export interface EnsureResult {
  readonly image: RootImage
  readonly built: boolean
  readonly buildMs: number
  readonly extractMs: number
}

export const ensureRootImage = async (kind: RootKind): Promise<EnsureResult> => {
  await fs.mkdir(ROOTS_DIR, { recursive: true })
  const stem = `${kind}-${await imageKey(kind)}`
  const tarball = path.join(ROOTS_DIR, `${stem}.tar`)
  const baseDir = path.join(ROOTS_DIR, stem)
  const ready = path.join(ROOTS_DIR, `${stem}.ready`)
  await pruneOld(kind, stem)

  let built = false
  const t0 = Date.now()
  if (!(await exists(tarball))) {
    await execOk(["sh", path.join(SCRIPTS_DIR, "build-root.sh"), kind, tarball], { timeoutMs: 600_000 })
    built = true
  }
  const t1 = Date.now()
  if (!(await exists(ready))) {
    await fs.rm(baseDir, { recursive: true, force: true })
    await fs.mkdir(baseDir)
    await execOk(["tar", "-C", baseDir, "--numeric-owner", "-xpf", tarball], { timeoutMs: 300_000 })
    await fs.writeFile(ready, `${new Date().toISOString()}\n`)
  }
  await installNode(baseDir)
  return { image: { kind, tarball, baseDir }, built, buildMs: t1 - t0, extractMs: Date.now() - t1 }
}
