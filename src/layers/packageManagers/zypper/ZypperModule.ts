/** zypper, on SUSE Linux Enterprise and openSUSE. */
import type { PackageManagerModule } from "../PackageManagerModule.js"
import * as ZypperPackageManager from "./ZypperPackageManager.js"

export const zypper: PackageManagerModule = {
  name: "zypper",
  distributions: ["sles", "sled", "sles_sap", "suse", "opensuse", "opensuse-leap", "opensuse-tumbleweed", "opensuse-microos"],
  programs: ["zypper"],
  layer: ({ root }) => ZypperPackageManager.layer({ root })
}
