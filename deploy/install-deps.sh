#!/usr/bin/env bash
# Installs, idempotently, every Debian package contd needs to build, test and run.
set -euo pipefail
PKGS=(
  build-essential dpkg-dev file cmake pkg-config ninja-build
  libcaf-dev
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  golang-github-containerd-containerd-dev golang-github-gogo-protobuf-dev
  libhiredis-dev nlohmann-json3-dev libspdlog-dev libfmt-dev catch2 libssl-dev
  libtomlplusplus-dev libcli11-dev clang-format clang-tidy
  containerd runc redis-server busybox-static iproute2 procps
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
