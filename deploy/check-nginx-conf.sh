#!/usr/bin/env bash
# Validates deploy/nginx.conf with the real nginx binary (`nginx -t`). The upstream host `edge` exists only
# inside compose's network, so it is pointed at loopback, and /tmp paths go to a scratch directory;
# nothing else is changed.
set -euo pipefail
cd "$(dirname "$0")/.."
nginx_bin="${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
sed -e 's/server edge:8080/server 127.0.0.1:8080/' -e "s#/tmp/#$dir/#g" deploy/nginx.conf >"$dir/nginx.conf"
"$nginx_bin" -t -q -p "$dir" -c "$dir/nginx.conf"
echo "deploy/nginx.conf: ok ($("$nginx_bin" -v 2>&1))"
