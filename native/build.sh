#!/bin/sh
# `npm install` runs this: node-gyp builds the addon and pause (binding.gyp).
# node-gyp needs Node's headers. Debian's nodejs, NodeSource and nodejs.org builds all install
# them next to the node binary, so point node-gyp there rather than let it download them
# (a machine that reaches only the npm registry could not).
set -e
prefix=$(node -p "require('path').resolve(process.execPath, '../..')")
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$prefix/include/node/node_api.h" ]; then
  npm_config_nodedir=$prefix
  export npm_config_nodedir
fi
exec node-gyp rebuild
