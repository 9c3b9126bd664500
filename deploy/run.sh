#!/usr/bin/env bash
# Runs contd for real: installs what it needs, builds, starts a private redis-server and
# containerd under a local state directory (unless CONTD_BROKER / CONTD_CONTAINERD point at
# existing ones), prepares a busybox rootfs and a network namespace for a demo, starts contd, runs
# a short demo with contctl (run -> inspect -> logs -> exec -> rm) and leaves contd serving in the
# foreground until Ctrl-C. Everything it started is stopped and removed on exit.
#
#   bash deploy/run.sh            # demo, then serve until Ctrl-C
#   bash deploy/run.sh --demo     # demo, then stop (no waiting)
#
# Environment: CONTD_STATE (default ./.state), CONTD_BROKER (redis URL), CONTD_CONTAINERD
# (containerd socket), BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
demo_only=0
[ "${1:-}" = "--demo" ] && demo_only=1

bash deploy/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" --target contd contctl
bin="$top/$BUILD_DIR/bin"

state=${CONTD_STATE:-$top/.state}
mkdir -p "$state"
state=$(cd "$state" && pwd)
pids=()
netns=contd-demo-$$
ctrd_sock=${CONTD_CONTAINERD:-}
broker=${CONTD_BROKER:-}
own_containerd=0

cleanup() {
  set +e
  trap - EXIT INT TERM
  echo "run.sh: cleaning up"
  if [ -n "${contd_pid:-}" ] && kill -0 "$contd_pid" 2>/dev/null; then
    kill -TERM "$contd_pid"; wait "$contd_pid" 2>/dev/null
  fi
  if [ "$own_containerd" = 1 ]; then
    # Kill and delete what the demo (or a user) left in our private containerd.
    for ns in $(ctr -a "$ctrd_sock" ns ls -q 2>/dev/null); do
      for t in $(ctr -a "$ctrd_sock" -n "$ns" t ls -q 2>/dev/null); do
        ctr -a "$ctrd_sock" -n "$ns" t kill -a -s SIGKILL "$t" 2>/dev/null
        sleep 0.2; ctr -a "$ctrd_sock" -n "$ns" t rm -f "$t" 2>/dev/null
      done
      for c in $(ctr -a "$ctrd_sock" -n "$ns" c ls -q 2>/dev/null); do
        ctr -a "$ctrd_sock" -n "$ns" c rm "$c" 2>/dev/null
      done
    done
  fi
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del "$netns" 2>/dev/null
  # Shims started by our containerd exit with their tasks; anything mounted below state goes too.
  grep " $state" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  echo "run.sh: done"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$broker" ]; then
  # Own sessions: a Ctrl-C reaches contd (which stops gracefully) and this script, whose clean-up
  # still needs redis and containerd.
  setsid redis-server --port 0 --unixsocket "$state/redis.sock" --unixsocketperm 700 --save "" \
    --appendonly no --dir "$state" --logfile "$state/redis.log" &
  pids+=($!)
  broker="unix://$state/redis.sock"
  echo "run.sh: private redis-server on $state/redis.sock"
fi

if [ -z "$ctrd_sock" ]; then
  mkdir -p "$state/containerd"
  ctrd_sock="$state/containerd/containerd.sock"
  cat > "$state/containerd/config.toml" <<EOF
version = 2
root = "$state/containerd/root"
state = "$state/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$ctrd_sock"
[ttrpc]
  address = "$ctrd_sock.ttrpc"
[debug]
  address = "$state/containerd/debug.sock"
EOF
  setsid containerd --config "$state/containerd/config.toml" >"$state/containerd.log" 2>&1 &
  pids+=($!)
  own_containerd=1
  echo "run.sh: private containerd on $ctrd_sock"
fi

# A busybox rootfs and a network namespace for the demo.
rootfs="$state/rootfs"
if [ ! -x "$rootfs/bin/busybox" ]; then
  mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp,run,root}
  cp /usr/bin/busybox "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
  done
  : > "$rootfs/etc/resolv.conf"
fi
ip netns add "$netns"

"$bin/contd" --broker "$broker" --root "$state/root" --containerd "$ctrd_sock" \
  --netns-dir /var/run/netns &
contd_pid=$!
ctl() { "$bin/contctl" --broker "$broker" "$@"; }

for _ in $(seq 1 100); do
  ctl --timeout 1s status >/dev/null 2>&1 && break
  kill -0 "$contd_pid" 2>/dev/null || { echo "run.sh: contd exited"; exit 1; }
  sleep 0.3
done
ctl --timeout 3s status

echo; echo "== demo: run"
ctl run demo hello --rootfs "$rootfs" --netns "$netns" --env GREETING=hello --memory 64M \
  -- /bin/sh -c 'echo "$GREETING from $(hostname)"; trap "echo bye; exit 0" TERM; while true; do sleep 1; done'
sleep 1
echo; echo "== demo: inspect"; ctl inspect demo hello
echo; echo "== demo: logs"; ctl logs demo hello
echo; echo "== demo: exec"; ctl exec demo hello -- /bin/sh -c 'test "$GREETING" = hello' && echo "exec saw the container's env"
echo; echo "== demo: ls"; ctl ls
echo; echo "== demo: stats"; ctl stats demo hello
echo; echo "== demo: rm"; ctl rm demo hello; ctl ls demo

if [ "$demo_only" = 1 ]; then
  exit 0
fi
echo
echo "contd is serving on $broker (containerd $ctrd_sock). Try:"
echo "  $bin/contctl --broker $broker ns"
echo "Ctrl-C stops contd and everything run.sh started."
wait "$contd_pid"
