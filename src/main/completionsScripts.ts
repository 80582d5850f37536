/**
 * Prints the shell completion scripts, `{ "file name": "text" }` as JSON: build.mjs bundles and
 * runs this, and writes them to dist/completions/.
 */
import * as Cli from "./Cli.js"
import * as Completions from "./Completions.js"

process.stdout.write(JSON.stringify(Completions.files(Cli.completionSpec)))
