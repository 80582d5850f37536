/** dnf and yum, on Red Hat and its relatives: dnf where both are present (yum is then its alias). */
import type { PackageManagerModule } from "../PackageManagerModule.js"
import * as RpmPackageManager from "./RpmPackageManager.js"

const REDHAT_FAMILY = ["rhel", "fedora", "centos", "rocky", "almalinux", "ol", "amzn"]

export const dnf: PackageManagerModule = {
  name: "dnf",
  distributions: REDHAT_FAMILY,
  programs: ["dnf"],
  layer: (options) => RpmPackageManager.layer({ ...options, flavor: "dnf" })
}

export const yum: PackageManagerModule = {
  name: "yum",
  distributions: REDHAT_FAMILY,
  programs: ["yum"],
  layer: (options) => RpmPackageManager.layer({ ...options, flavor: "yum" })
}
