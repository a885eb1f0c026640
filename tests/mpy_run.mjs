// Run a Python script on real MicroPython (WebAssembly port) under Node.js.
// usage: node tests/mpy_run.mjs NODE_MODULES_DIR PACKAGE_DIR SCRIPT
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, pkgDir, script] = process.argv.slice(2);
const { loadMicroPython } = await import(pathToFileURL(join(modules, "@micropython/micropython-webassembly-pyscript/micropython.mjs")).href);
let out = "";
const mp = await loadMicroPython({ stdout: (t) => { out += t + "\n"; }, stderr: (t) => { out += t + "\n"; } });
mp.FS.mkdir("/fw");
mp.FS.mkdir("/fw/antre_fw");
for (const name of readdirSync(pkgDir)) {
  if (name.endsWith(".py")) mp.FS.writeFile(`/fw/antre_fw/${name}`, readFileSync(join(pkgDir, name), "utf8"));
}
try {
  mp.runPython("import sys\nsys.path.insert(0, '/fw')\n" + readFileSync(script, "utf8"));
} catch (e) {
  process.stdout.write(out);
  console.error(String(e));
  process.exit(1);
}
process.stdout.write(out);
