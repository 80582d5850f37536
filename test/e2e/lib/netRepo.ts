/**
 * What the network and trust scenarios need besides a Scenario: publishing under a base URL
 * other than the plain-http server's (a proxy-only host name, the https front), with another
 * signing key, or with a doctored `.repo`; a second throwaway signing key; the throwaway CA put
 * into a root's system trust store; and the proxy configured in the root's package manager.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { execOk } from "./exec.js"
import { type Build, stopGpgAgent } from "./fixtures.js"
import { SCRIPTS_DIR } from "./paths.js"
import type { Root } from "./root.js"
import type { Scenario } from "./scenario.js"

export interface NetPublishOptions {
  /** The base URL the `.repo`'s baseurl/gpgkey name (publish-repo.sh's BASE_URL). */
  readonly baseUrl: string
  /** Signs with this GNUPGHOME instead of the suite's key. */
  readonly gnupgHome?: string
  /** Rewrites redhat/drivesrvr.repo after publishing. */
  readonly repoFile?: (text: string) => string
}

let publications = 0

/** Publishes `builds` with `versionTxt` into the scenario's temp dir and serves that tree. */
export const publishWith = async (
  s: Scenario,
  builds: ReadonlyArray<Build>,
  versionTxt: string,
  options: NetPublishOptions
): Promise<string> => {
  const workDir = path.join(s.root.tmp, "published-net")
  await fs.mkdir(workDir, { recursive: true })
  const dir = path.join(workDir, `repo-${++publications}`)
  const files = builds.flatMap((build) => [s.fixtures.builds[build].deb, s.fixtures.builds[build].rpm])
  const gnupgHome = options.gnupgHome ?? s.fixtures.gnupgHome
  await execOk(["sh", path.join(SCRIPTS_DIR, "publish-repo.sh"), gnupgHome, dir, options.baseUrl, versionTxt, ...files])
  if (options.repoFile !== undefined) {
    const repo = path.join(dir, "redhat", "drivesrvr.repo")
    await fs.writeFile(repo, options.repoFile(await fs.readFile(repo, "utf8")))
  }
  s.server.setRoot(dir)
  return dir
}

/** A second throwaway signing key in `gnupgHome` (make-key.sh); its fingerprint. */
export const makeSigningKey = async (gnupgHome: string): Promise<string> => {
  const fingerprint = (await execOk(["sh", path.join(SCRIPTS_DIR, "make-key.sh"), gnupgHome])).stdout.trim()
  if (!/^[0-9A-F]{40}$/.test(fingerprint)) throw new Error(`make-key.sh printed no fingerprint: ${fingerprint}`)
  return fingerprint
}

export { stopGpgAgent }

/**
 * Puts `caPem` into the root's system trust store, where both the package manager and the
 * updater look:
 * - apt root: the roots have no ca-certificates package (no update-ca-certificates, no
 *   /etc/ssl at all), so the bundle /etc/ssl/certs/ca-certificates.crt is written directly —
 *   the file apt's gnutls (its compiled-in default trust store) and the updater read.
 * - rpm root: RHEL's bundle /etc/pki/tls/certs/ca-bundle.crt, the one the updater must find on
 *   a RHEL host. Debian's dnf (librepo over libcurl-gnutls) defaults to Debian's bundle path,
 *   so dnf.conf's [main] is told `sslcacert=` that file — as on RHEL, where it is libcurl's default.
 */
export const installCa = async (root: Root, caPem: string): Promise<void> => {
  if (root.kind === "apt") {
    await root.writeFile("/etc/ssl/certs/ca-certificates.crt", caPem)
    return
  }
  await root.writeFile("/etc/pki/tls/certs/ca-bundle.crt", caPem)
  await addToDnfMain(root, `sslcacert=/etc/pki/tls/certs/ca-bundle.crt`)
}

const addToDnfMain = async (root: Root, line: string): Promise<void> => {
  const conf = await root.readFile("/etc/dnf/dnf.conf")
  if (!/^\[main\]\s*$/m.test(conf)) throw new Error(`no [main] in the root's dnf.conf:\n${conf}`)
  await root.writeFile("/etc/dnf/dnf.conf", conf.replace(/^\[main\]\s*$/m, `[main]\n${line}`))
}

/** Configures `proxyUrl` as the package manager's own proxy: apt's Acquire::http::Proxy, dnf's proxy=. */
export const configurePackageManagerProxy = async (root: Root, proxyUrl: string): Promise<void> => {
  if (root.kind === "apt") {
    await root.writeFile("/etc/apt/apt.conf.d/80proxy", `Acquire::http::Proxy "${proxyUrl}";\n`)
    return
  }
  await addToDnfMain(root, `proxy=${proxyUrl}`)
}

/** Every file under `dir` in the root with its content (a directory's full state). */
export const dirState = async (root: Root, dir: string): Promise<Record<string, string>> => {
  const state: Record<string, string> = {}
  const names = await fs.readdir(root.path(dir)).catch(() => [] as string[])
  for (const name of names.sort()) state[name] = await root.readFile(path.posix.join(dir, name)).catch(() => "<unreadable>")
  return state
}
