// Run a Python script on real MicroPython (WebAssembly port) under Node.js.
// usage: node tests/mpy_run.mjs NODE_MODULES_DIR PACKAGE_DIR SCRIPT
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, pkgDir, script, fakesDir] = process.argv.slice(2);
const { loadMicroPython } = await import(pathToFileURL(join(modules, "@micropython/micropython-webassembly-pyscript/micropython.mjs")).href);
let out = "";
const mp = await loadMicroPython({ stdout: (t) => { out += t + "\n"; }, stderr: (t) => { out += t + "\n"; } });
mp.FS.mkdir("/fw");
mp.FS.mkdir("/fw/antre_fw");
if (fakesDir) {  // fakes of machine, network and umqtt, in the MicroPython filesystem
  mp.FS.mkdir("/fw/umqtt");
  for (const name of ["machine.py", "network.py"]) mp.FS.writeFile(`/fw/${name}`, readFileSync(join(fakesDir, name), "utf8"));
  for (const name of ["__init__.py", "simple.py"]) mp.FS.writeFile(`/fw/umqtt/${name}`, readFileSync(join(fakesDir, "umqtt", name), "utf8"));
}
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
