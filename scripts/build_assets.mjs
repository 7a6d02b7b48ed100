// Copies the front-end files the web interface serves from node_modules into
// src/stadslab/web/static/vendor/. No bundler: every file is used as its
// package publishes it, so what runs in the browser is exactly what npm
// installed from package-lock.json. The vendor folder is gitignored; run
// `npm ci && npm run build` (or `make assets`) after a fresh clone.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");
const vendor = join(root, "src", "stadslab", "web", "static", "vendor");

// [package, file inside the package, target inside vendor/]
const FILES = [
  ["@utrecht/component-library-css", "dist/index.css", "utrecht/component-library.css"],
  ["@utrecht/component-library-css", "LICENSE.md", "utrecht/LICENSE.md"],
  ["leaflet", "dist/leaflet.js", "leaflet/leaflet.js"],
  ["leaflet", "dist/leaflet.css", "leaflet/leaflet.css"],
  ["leaflet", "dist/images", "leaflet/images"],
  ["leaflet", "LICENSE", "leaflet/LICENSE"],
  ["chart.js", "dist/chart.umd.min.js", "chartjs/chart.umd.min.js"],
  ["chart.js", "LICENSE.md", "chartjs/LICENSE.md"],
  // /api/docs serves Swagger UI from here: no third-party host
  ["swagger-ui-dist", "swagger-ui-bundle.js", "swagger-ui/swagger-ui-bundle.js"],
  ["swagger-ui-dist", "swagger-ui.css", "swagger-ui/swagger-ui.css"],
  ["swagger-ui-dist", "LICENSE", "swagger-ui/LICENSE"],
  ["swagger-ui-dist", "NOTICE", "swagger-ui/NOTICE"],
];

function version(pkg) {
  return JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8")).version;
}

rmSync(vendor, { recursive: true, force: true });
mkdirSync(vendor, { recursive: true });
const manifest = {};
for (const [pkg, file, target] of FILES) {
  const source = join(modules, pkg, file);
  if (!existsSync(source)) {
    console.error(`build_assets: ${pkg}/${file} not found; run \`npm ci\` first`);
    process.exit(1);
  }
  const dest = join(vendor, target);
  mkdirSync(dirname(dest), { recursive: true });
  cpSync(source, dest, { recursive: true });
  manifest[pkg] = version(pkg);
}
// The web app reads this to add ?v=<version> to vendor URLs (cache busting).
writeFileSync(join(vendor, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`build_assets: copied ${FILES.length} entries into ${vendor}`);
