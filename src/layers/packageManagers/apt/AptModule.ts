/** apt, on Debian and Ubuntu. */
import type { PackageManagerModule } from "../PackageManagerModule.js"
import * as AptPackageManager from "./AptPackageManager.js"

export const apt: PackageManagerModule = {
  name: "apt",
  distributions: ["debian", "ubuntu"],
  programs: ["apt-get"],
  layer: ({ root }) => AptPackageManager.layer({ root })
}
