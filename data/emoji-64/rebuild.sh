#!/usr/bin/env bash
# Rebuilds data/emoji-64/ byte for byte from the npm package emoji-datasource-google@16.0.0 (see SOURCE.md):
# every 64x64 Google/Noto emoji image with its own code point (skin-tone variants and the "Component" category left
# out), copied unchanged into one folder per category (the folders are the class labels), plus emoji.tsv (file, category, subcategory, name). Needs npm
# (and so node), tar and sha256sum; it checks the package's hash and, at the end, every file against MANIFEST.sha256.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package="emoji-datasource-google@16.0.0"
tgz_sha256="fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "$package" > /dev/null)
tgz="$work/emoji-datasource-google-16.0.0.tgz"
echo "$tgz_sha256  $tgz" | sha256sum -c --quiet -
tar xzf "$tgz" -C "$work"

# every folder here but the feature network is a category folder this script wrote
find "$here" -mindepth 1 -maxdepth 1 -type d ! -name features -exec rm -rf {} +
node - "$work/package" "$here" <<'JS'
const fs = require('fs');
const path = require('path');
const [pkg, out] = process.argv.slice(2);
// folder names: the category in lower case, '&' and spaces to one '-'
const slug = c => c.toLowerCase().replace(/ & /g, '-').replace(/ /g, '-');
const emoji = JSON.parse(fs.readFileSync(path.join(pkg, 'emoji.json'), 'utf8'));
const rows = [];
for (const e of emoji) {
  if (!e.has_img_google || e.category === 'Component') continue;
  const dir = path.join(out, slug(e.category));
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(pkg, 'img', 'google', '64', e.image), path.join(dir, e.image));
  rows.push([slug(e.category) + '/' + e.image, e.category, e.subcategory, e.name.toLowerCase()].join('\t'));
}
rows.sort();
fs.writeFileSync(path.join(out, 'emoji.tsv'), 'file\tcategory\tsubcategory\tname\n' + rows.join('\n') + '\n');
JS
cp "$work/package/LICENSE" "$here/LICENSE-emoji-datasource"

cd "$here"
images() { find . -mindepth 2 -name '*.png' -not -path './features/*' | sed 's|^\./||' | LC_ALL=C sort; }
if [[ -f MANIFEST.sha256 ]]; then
  images | xargs sha256sum | cat - <(sha256sum emoji.tsv) | diff -q - MANIFEST.sha256 > /dev/null \
    || { echo "rebuild.sh: the rebuilt files differ from MANIFEST.sha256" >&2; exit 1; }
  echo "rebuilt $(images | wc -l) images; every file matches MANIFEST.sha256"
else
  { images | xargs sha256sum; sha256sum emoji.tsv; } > MANIFEST.sha256
  echo "rebuilt $(images | wc -l) images; wrote MANIFEST.sha256"
fi
