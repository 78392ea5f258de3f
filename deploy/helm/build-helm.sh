#!/bin/sh
# Build Helm from the Go module proxy (get.helm.sh is out of reach): `make helm` runs this when .local/helm/VERSION
# is not the version asked for. Usage: build-helm.sh VERSION (e.g. v4.3.2). Everything goes under .local/:
# the binary in .local/helm/bin, Go's build and module caches in .local/go, so a second build takes a second.
#
# Helm v4 needs Go 1.26. A Go of 1.21 or later fetches that toolchain itself (GOTOOLCHAIN=auto). An older one, such
# as Debian bookworm's 1.19, cannot; but the toolchain is a module on the same proxy (golang.org/toolchain), which
# any Go can download: its folder is a whole Go distribution, used for the build.
set -eu
version=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
local_dir=$root/.local
export GOCACHE="$local_dir/go/cache" GOMODCACHE="$local_dir/go/mod" GOPATH="$local_dir/go/path"
export GOFLAGS=-modcacherw GOTOOLCHAIN=auto GOBIN="$local_dir/helm/bin"
toolchain=go1.26.8  # what Helm's go.mod asks for, or later

if ! command -v go >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends golang-go
  else
    echo "needs Go to build Helm: apt-get install -y golang-go" >&2
    exit 1
  fi
fi

go=go
minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
if [ "$minor" -lt 21 ]; then
  arch=$(go env GOARCH)
  echo "Go $(go env GOVERSION) cannot switch toolchains: fetching $toolchain from the module proxy"
  scratch=$(mktemp -d)
  dir=$(cd "$scratch" && go mod init scratch >/dev/null 2>&1 &&
    go mod download -json "golang.org/toolchain@v0.0.1-$toolchain.linux-$arch" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  rm -rf "$scratch"
  go=$dir/bin/go
  chmod +x "$go" "$dir"/pkg/tool/*/* 2>/dev/null || true
  export GOROOT="$dir"
fi

echo "building helm $version from the Go module proxy (a few minutes, once)"
"$go" install "helm.sh/helm/v4/cmd/helm@$version"
echo "$version" > "$local_dir/helm/VERSION"
