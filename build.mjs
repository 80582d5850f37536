// Bundles the CLI into one self-contained file for packaging.
import { build } from "esbuild"
import { readFile } from "node:fs/promises"

const pkg = JSON.parse(await readFile(new URL("./package.json", import.meta.url), "utf8"))

await build({
  entryPoints: ["src/main/main.ts"],
  outfile: "dist/cloudbackup-updater.js",
  bundle: true,
  platform: "node",
  target: "node18",
  format: "cjs",
  minify: true,
  legalComments: "none",
  banner: { js: "#!/usr/bin/env node" },
  define: { __UPDATER_VERSION__: JSON.stringify(pkg.version) },
  logLevel: "warning"
})
