/**
 * The names `--package-manager` takes, in index.ts's order: apart from the modules, so that the
 * command line is parsed without loading any package manager's code.
 */
import type { PackageManagerKind } from "../../services/PackageManager.js"

export const packageManagerNames: ReadonlyArray<PackageManagerKind> = ["apt", "dnf", "yum", "zypper"]
