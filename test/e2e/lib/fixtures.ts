/**
 * The suite's fixtures, rebuilt on every run: a throwaway signing key and the agent packages
 * (1.0.0, 1.1.0, 1.2.0, a 1.2.0 padded with ~20 MiB of random bytes, and faulty 1.1.0 variants
 * for the fault scenarios), rpms signed.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { exec, execOk } from "./exec.js"
import { FIXTURES_DIR, SCRIPTS_DIR } from "./paths.js"

export const AGENT_VERSIONS = ["1.0.0", "1.1.0", "1.2.0"] as const
export type AgentVersion = (typeof AGENT_VERSIONS)[number]
/**
 * Faulty packages (see scripts/build-packages.sh), each misbehaving only on an upgrade:
 * `slow-scripts` (preinst/%pre and postinst/%post log to /var/log/driveclient-scripts.log, then
 * sleep 3 s), `failing-preinst` (preinst/%pre exit 1), `failing-postinst` (postinst/%post exit 1),
 * `crashing-agent` (the daemon dies 1 s after it started), `failing-start` (the init script's
 * start exits 1 without starting the daemon; the one variant that fails on every start).
 */
export const FAULT_VARIANTS = ["slow-scripts", "failing-preinst", "failing-postinst", "crashing-agent", "failing-start"] as const
export type FaultVariant = (typeof FAULT_VARIANTS)[number]
/** A build of an agent version: the plain one, the one padded to ~20 MiB, or a faulty 1.1.0. */
export type Build = AgentVersion | "1.2.0-big" | `1.1.0-${FaultVariant}`
export const BIG_PADDING_MIB = 20

export interface PackageFiles {
  readonly version: AgentVersion
  readonly deb: string
  readonly rpm: string
}

export interface Fixtures {
  readonly gnupgHome: string
  readonly fingerprint: string
  readonly builds: Readonly<Record<Build, PackageFiles>>
}

const script = (name: string) => path.join(SCRIPTS_DIR, name)

const buildPackages = async (version: AgentVersion, outDir: string, padMiB = 0, variant = ""): Promise<PackageFiles> => {
  await execOk(["sh", script("build-packages.sh"), version, outDir, String(padMiB), variant])
  return {
    version,
    deb: path.join(outDir, `driveclient_${version}-1_amd64.deb`),
    rpm: path.join(outDir, `driveclient-${version}-1.el9.x86_64.rpm`)
  }
}

export const buildFixtures = async (dir: string = FIXTURES_DIR): Promise<Fixtures> => {
  await stopGpgAgent(path.join(dir, "gnupg"))
  await fs.rm(dir, { recursive: true, force: true })
  await fs.mkdir(dir, { recursive: true })
  const gnupgHome = path.join(dir, "gnupg")
  const fingerprint = (await execOk(["sh", script("make-key.sh"), gnupgHome])).stdout.trim()
  if (!/^[0-9A-F]{40}$/.test(fingerprint)) throw new Error(`make-key.sh printed no fingerprint: ${fingerprint}`)

  const [v100, v110, v120, big, ...faulty] = await Promise.all([
    buildPackages("1.0.0", path.join(dir, "packages")),
    buildPackages("1.1.0", path.join(dir, "packages")),
    buildPackages("1.2.0", path.join(dir, "packages")),
    buildPackages("1.2.0", path.join(dir, "packages-big"), BIG_PADDING_MIB),
    ...FAULT_VARIANTS.map((variant) => buildPackages("1.1.0", path.join(dir, `packages-${variant}`), 0, variant))
  ])
  const builds = {
    "1.0.0": v100,
    "1.1.0": v110,
    "1.2.0": v120,
    "1.2.0-big": big,
    ...Object.fromEntries(FAULT_VARIANTS.map((variant, i) => [`1.1.0-${variant}`, faulty[i]!]))
  } as Record<Build, PackageFiles>
  await execOk(["sh", script("sign-rpms.sh"), gnupgHome, fingerprint, ...Object.values(builds).map((b) => b.rpm)])
  return { gnupgHome, fingerprint, builds }
}

/** Ends the gpg-agent that signing started for this home, if any. */
export const stopGpgAgent = async (gnupgHome: string): Promise<void> => {
  await exec(["gpgconf", "--kill", "all"], { env: { ...process.env, GNUPGHOME: gnupgHome } }).catch(() => undefined)
}
