# Sourced by the bench/compare_*.sh scripts: the peer (PyTorch) and our benchmark binaries.
# Expects $root (the repository root).

# Installs Debian's python3-torch (and numpy) if /usr/bin/python3 cannot import torch.
ensure_torch() {
  if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "== installing python3-torch (Debian)" >&2
    "$root/scripts/install-deps" python3-torch python3-numpy >&2
  fi
}

# ensure_bench_binary PATH NAME: builds the release tree if PATH is the default
# build/release/bench/NAME and is missing; fails for any other missing path.
ensure_bench_binary() {
  local bench=$1 name=$2
  [ -x "$bench" ] && return 0
  if [ "$bench" = "$root/build/release/bench/$name" ]; then
    echo "== building $bench" >&2
    "$root/scripts/build" build/release >&2
  else
    echo "error: $bench does not exist" >&2
    exit 1
  fi
}
