#!/usr/bin/env bash
# Provision a worker of the kbs Vagrant lab the stock way: containerd, then kubelet and kubeadm from the upstream
# Kubernetes packages of the control plane's minor, then the `kubeadm join` command master-1 published.
# The Docker provider's workers are containers from the test bed's worker image, which has all of it installed.
#
# Environment (set by the Vagrantfile):
#   KBS_LAB_ADDRESS             this node's private address, used as the kubelet's --node-ip (required)
#   KBS_LAB_NODE_NAME           node name (default: the short host name)
#   KBS_LAB_SOURCE              the project folder (default: the one holding this script; /vagrant in the VMs)
#   KBS_LAB_SHARED_DIR          where master-1 publishes join-command (default: <source>/lab/out)
#   KBS_LAB_KUBERNETES_VERSION  default: kbs's default version (bootstrap/versions.toml); its minor picks the
#                               package channel (pkgs.k8s.io core:/stable:/v1.<minor>)
#   KBS_LAB_JOIN_WAIT_SECONDS   how long to wait for join-command (default 1800; libvirt starts VMs in parallel)
#   KBS_LAB_SKIP_PACKAGES       1: install nothing
#   KBS_LAB_API_HOSTS_ENTRY     "ADDRESS NAME": an /etc/hosts line that makes the control-plane endpoint resolve
#   KBS_LAB_CONTAINER           1: the node is a container sharing the host's kernel (the Docker provider): the
#                               kubelet gets a configuration patch for that (cgroupfs driver, cgroup v1 and swap
#                               tolerated), containerd's socket is named, and kubeadm's preflight checks, which
#                               look at the host's kernel and services, only warn
#
# Safe to run again (`vagrant provision worker-1`): packages are kept, and a node that has joined
# (/etc/kubernetes/kubelet.conf exists) is left alone.
set -euo pipefail

SOURCE=${KBS_LAB_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
[ -f "$SOURCE/lab/common.sh" ] || {
  echo "kbs-lab: error: $SOURCE is not the kbs project folder (no lab/common.sh); set KBS_LAB_SOURCE" >&2
  exit 1
}
# shellcheck source=lab/common.sh
. "$SOURCE/lab/common.sh"

KUBELET_CONF=/etc/kubernetes/kubelet.conf
CONTAINERD_CONFIG=/etc/containerd/config.toml
PATCH_DIR=/etc/kbs-lab/patches
# What a kubelet in a container needs that a VM's does not (the same as tests/support/cluster.py's patch): no
# systemd to be the cgroup driver, and the host's cgroup v1 and swap are not the node's to change.
CONTAINER_KUBELET_PATCH='apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false'
JOIN_PATTERN='^kubeadm join [^ ]+ --token [a-z0-9]{6}\.[a-z0-9]{16} --discovery-token-ca-cert-hash sha256:[0-9a-f]{64}$'

install_packages() {
  local version=$1 address=$2 channel
  channel=$(minor_channel "$version")
  say "installing containerd, kubelet and kubeadm ($channel)"
  kernel_prerequisites
  # The kubelet refuses to start with swap on (failSwapOn), and kubeadm's preflight says so.
  swapoff -a
  sed -i -E 's|^([^#].*[[:space:]]swap[[:space:]].*)$|# \1  # disabled by kbs-lab|' /etc/fstab
  add_docker_repo
  add_kubernetes_repo "$channel"
  apt_install containerd.io kubelet kubeadm kubectl
  apt-mark hold containerd.io kubelet kubeadm kubectl >/dev/null
  configure_containerd
  # Every VM shares the NAT address; the node must be known by its private one.
  printf 'KUBELET_EXTRA_ARGS=--node-ip=%s\n' "$address" >/etc/default/kubelet
  systemctl enable kubelet
}

# containerd with the CRI plugin on (Docker's package disables it) and the systemd cgroup driver, which is the
# kubelet's (kbs uploads cgroupDriver: systemd in the kubelet-config ConfigMap, like kubeadm).
configure_containerd() {
  local major
  major=$(containerd --version | sed -n 's/.* v\{0,1\}\([0-9][0-9]*\)\.[0-9][0-9]*\.[0-9][0-9]*.*/\1/p')
  [ "${major:-0}" -ge 2 ] || die "containerd $(containerd --version) is older than 2.0" \
    "Kubernetes 1.36 and later need containerd 2: install containerd.io from Docker's repository"
  if ! grep -q 'SystemdCgroup = true' "$CONTAINERD_CONFIG" 2>/dev/null; then
    containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' >"$CONTAINERD_CONFIG.tmp"
    grep -q 'SystemdCgroup = true' "$CONTAINERD_CONFIG.tmp" ||
      die "cannot turn on SystemdCgroup in containerd's default configuration" "edit $CONTAINERD_CONFIG by hand"
    mv -f "$CONTAINERD_CONFIG.tmp" "$CONTAINERD_CONFIG"
    systemctl restart containerd
  fi
  systemctl enable containerd
}

main() {
  local address=${KBS_LAB_ADDRESS:-} node_name=${KBS_LAB_NODE_NAME:-} shared=${KBS_LAB_SHARED_DIR:-$SOURCE/lab/out}
  local wait=${KBS_LAB_JOIN_WAIT_SECONDS:-1800} version join_file line
  local -a command extra=()
  [ -n "$address" ] || die "KBS_LAB_ADDRESS is not set" "set it to this node's address on the lab network"
  [ -n "$node_name" ] || node_name=$(default_node_name)
  check_address "$address"
  check_node_name "$node_name"
  version=$(lab_kubernetes_version "$SOURCE")

  if [ "${KBS_LAB_SKIP_PACKAGES:-0}" = 1 ]; then
    say "KBS_LAB_SKIP_PACKAGES=1: installing nothing"
  else
    install_packages "$version" "$address"
  fi
  add_api_hosts_entry
  if [ -f "$KUBELET_CONF" ]; then
    say "$node_name has joined already ($KUBELET_CONF exists): nothing to do"
    return
  fi

  join_file=$shared/join-command
  wait_for_file "$join_file" "$wait" "master-1 publishes it when kbs init succeeds: see 'vagrant provision master-1'"
  read -r line <"$join_file"
  [[ $line =~ $JOIN_PATTERN ]] ||
    die "$join_file does not hold a kubeadm join command" "provision master-1 again to rewrite it"
  read -r -a command <<<"$line"
  if [ "${KBS_LAB_CONTAINER:-0}" = 1 ]; then
    mkdir -p "$PATCH_DIR"
    printf '%s\n' "$CONTAINER_KUBELET_PATCH" >"$PATCH_DIR/kubeletconfiguration+merge.yaml"
    extra=(--patches "$PATCH_DIR" --cri-socket unix:///run/containerd/containerd.sock --ignore-preflight-errors=all)
  fi
  say "joining ${command[2]} as $node_name"
  "${command[@]}" --node-name "$node_name" "${extra[@]}" ||
    die "kubeadm join failed" "if $join_file is from an earlier lab or its token is older than 24h, run \
'vagrant provision master-1' and then 'vagrant provision $node_name'"
}

main "$@"
