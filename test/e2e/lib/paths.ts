/** Where the suite's files live. */
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
export const REPO_ROOT = path.resolve(E2E_DIR, "..", "..")
export const SCRIPTS_DIR = path.join(E2E_DIR, "scripts")
/** Kept between runs (gitignored): root tarballs and their extracted base trees. */
export const CACHE_DIR = path.join(E2E_DIR, ".cache")
/** Rebuilt on every run: key, packages. */
export const FIXTURES_DIR = path.join(CACHE_DIR, "fixtures")
/** The updater under test; E2E_UPDATER_BUNDLE runs the suite against another build. */
export const BUNDLE = process.env["E2E_UPDATER_BUNDLE"] ?? path.join(REPO_ROOT, "dist", "cloudbackup-updater.js")
/** Prefix of the per-test temporary directories (overlay roots, published repositories). */
export const TMP_PREFIX = "driveclient-e2e-"

/** Inside every root. */
export const IN_ROOT = {
  node: "/usr/local/bin/node",
  bundle: "/opt/cloudbackup-updater/cloudbackup-updater.js",
  events: "/var/log/driveclient-events.log",
  agentPidfile: "/run/driveclient.pid",
  agentLock: "/var/cache/driveclient/backup-running.lock",
  updaterStateDir: "/var/lib/cloudbackup-updater",
  /** Where the updater keeps agent packages for rollbacks. */
  keptPackagesDir: "/var/lib/cloudbackup-updater/packages",
  aptList: "/etc/apt/sources.list.d/driveclient.list",
  aptKeyring: "/etc/apt/keyrings/driveclient.asc",
  yumRepo: "/etc/yum.repos.d/drivesrvr.repo",
  zyppRepo: "/etc/zypp/repos.d/drivesrvr.repo"
} as const
