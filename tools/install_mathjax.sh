#!/usr/bin/env bash
# MathJax for the site, served from the site's own _static so that formulas typeset with no internet:
# npm's mathjax package (the CommonHTML build and the components it loads on demand), unpacked into
# book/_static/mathjax (git-ignored; _config.yml points Sphinx's mathjax_path at it). A no-op when present.
set -eu
version=3.2.2
root=$(cd "$(dirname "$0")/.." && pwd)
target="$root/book/_static/mathjax"
if [ -f "$target/tex-mml-chtml.js" ] && [ "$(cat "$target/VERSION" 2>/dev/null)" = "$version" ]; then exit 0; fi
if ! command -v npm >/dev/null; then
  echo "error: npm is needed once to fetch MathJax $version for the site (book/_static/mathjax)" >&2
  exit 1
fi
echo "fetching npm's mathjax@$version into book/_static/mathjax"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "mathjax@$version" >/dev/null)
tar -xzf "$work/mathjax-$version.tgz" -C "$work"
mkdir -p "$work/site/output"
cp -r "$work/package/es5/tex-mml-chtml.js" "$work/package/es5/a11y" "$work/package/es5/adaptors" \
      "$work/package/es5/input" "$work/package/es5/sre" "$work/package/es5/ui" "$work/site/"
cp -r "$work/package/es5/output/chtml" "$work/package/es5/output/chtml.js" "$work/site/output/"
cp "$work/package/LICENSE" "$work/site/"
echo "$version" > "$work/site/VERSION"
rm -rf "$target"
mkdir -p "$(dirname "$target")"
mv "$work/site" "$target"
