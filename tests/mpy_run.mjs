// Run a Python script on real MicroPython (WebAssembly port) under Node.js.
// usage: node tests/mpy_run.mjs NODE_MODULES_DIR PACKAGE_DIR SCRIPT [DIR...]
// PACKAGE_DIR's .py files become /fw/antre_fw; every .py and .json file under each DIR (fakes of machine,
// network and socket; the vendored umqtt package) is copied into /fw with its relative path.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, pkgDir, script, ...dirs] = process.argv.slice(2);
const { loadMicroPython } = await import(pathToFileURL(join(modules, "@micropython/micropython-webassembly-pyscript/micropython.mjs")).href);
let out = "";
const mp = await loadMicroPython({ stdout: (t) => { out += t + "\n"; }, stderr: (t) => { out += t + "\n"; } });
mp.FS.mkdir("/fw");
mp.FS.mkdir("/fw/antre_fw");
function copyTree(src, dst) {
  for (const name of readdirSync(src)) {
    const path = join(src, name);
    if (statSync(path).isDirectory()) {
      if (name === "__pycache__") continue;
      try { mp.FS.mkdir(`${dst}/${name}`); } catch (e) { /* exists */ }
      copyTree(path, `${dst}/${name}`);
    } else if (name.endsWith(".py") || name.endsWith(".json")) {
      mp.FS.writeFile(`${dst}/${name}`, readFileSync(path, "utf8"));
    }
  }
}
for (const dir of dirs) copyTree(dir, "/fw");
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
