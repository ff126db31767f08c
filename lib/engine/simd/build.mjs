// Compiles kernels.ts into the four wasm files tunebook loads (npm run build:simd): with and
// without relaxed SIMD's multiply-add, for the wasm backend's plain memory and for the threaded
// build's shared one.
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const asc = path.join(root, "node_modules/.bin/asc");
const common = [
  "lib/engine/simd/kernels.ts", "--runtime", "stub", "--importMemory", "--noExportMemory", "-O3",
  "--noAssert", "--enable", "simd",
];
const relaxed = ["--enable", "relaxed-simd"];
const shared = ["--sharedMemory", "--maximumMemory", "65536", "--enable", "threads"];
const builds = {
  "kernels.wasm": [],
  "kernels-relaxed.wasm": relaxed,
  "kernels-shared.wasm": shared,
  "kernels-shared-relaxed.wasm": [...shared, ...relaxed],
};
for (const [file, flags] of Object.entries(builds)) {
  execFileSync(asc, [...common, ...flags, "-o", path.join("dist/wasm", file)], {
    cwd: root, stdio: "inherit",
  });
}
