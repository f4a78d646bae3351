# shellcheck shell=bash
# Shared by lab/master.sh and lab/worker.sh (sourced, never run): logging, settings, apt repositories, the
# kernel settings every Kubernetes node needs, and file publishing. Every function is safe to run twice.

KBS_LAB_LOG_PREFIX=${KBS_LAB_LOG_PREFIX:-kbs-lab}
APT_KEYRINGS=/etc/apt/keyrings
_apt_updated=0

say() { printf '%s: %s\n' "$KBS_LAB_LOG_PREFIX" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "$KBS_LAB_LOG_PREFIX" "$1" >&2
  [ -n "${2:-}" ] && printf '%s: hint: %s\n' "$KBS_LAB_LOG_PREFIX" "$2" >&2
  exit 1
}

# The Kubernetes version: KBS_LAB_KUBERNETES_VERSION, else kbs's default from bootstrap/versions.toml.
lab_kubernetes_version() {
  local source=$1 version=${KBS_LAB_KUBERNETES_VERSION:-}
  if [ -z "$version" ]; then
    version=$(sed -n 's/^default *= *"\(v[0-9][0-9.]*\)".*/\1/p' "$source/bootstrap/versions.toml")
  fi
  [[ $version =~ ^v1\.[0-9]+\.[0-9]+$ ]] || die "Kubernetes version '$version' is not like v1.37.2" \
    "set KBS_LAB_KUBERNETES_VERSION or fix bootstrap/versions.toml"
  printf '%s\n' "$version"
}

# v1.37.2 -> v1.37: the upstream package channel of that minor.
minor_channel() { printf '%s\n' "${1%.*}"; }

check_address() {
  [[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || $1 =~ ^[0-9a-fA-F:]+$ ]] || die "address '$1' is not an IP address" \
    "set KBS_LAB_ADDRESS to this node's address on the lab network"
}

check_node_name() {
  [[ $1 =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] || die "node name '$1' is not a lower-case DNS name" \
    "set KBS_LAB_NODE_NAME"
}

default_node_name() { hostname -s | tr '[:upper:]' '[:lower:]'; }

# --- packages -----------------------------------------------------------------------------------------------

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$_apt_updated" = 0 ]; then
    apt-get update -q
    _apt_updated=1
  fi
  apt-get install -y -q --no-install-recommends "$@"
}

# add_apt_repo NAME KEY_URL SOURCES_LINE: a signed third-party repository; apt-get update runs again when it changed.
add_apt_repo() {
  local key_url=$2 line=$3 list=/etc/apt/sources.list.d/$1.list keyring=$APT_KEYRINGS/$1.gpg
  if ! command -v gpg >/dev/null || ! command -v curl >/dev/null; then
    apt_install ca-certificates curl gnupg
  fi
  install -d -m 0755 "$APT_KEYRINGS"
  if [ ! -s "$keyring" ]; then
    curl -fsSL "$key_url" | gpg --dearmor --yes -o "$keyring.tmp"
    chmod 0644 "$keyring.tmp"
    mv -f "$keyring.tmp" "$keyring"
  fi
  line=${line//@KEYRING@/$keyring}
  if [ "$(cat "$list" 2>/dev/null)" != "$line" ]; then
    printf '%s\n' "$line" >"$list"
    _apt_updated=0
  fi
}

# Docker's repository: docker-ce for the master, containerd.io (containerd 2.x, which Kubernetes 1.36+ needs,
# with runc) for the workers. Distribution packages of containerd are still 1.x on current LTS releases.
add_docker_repo() {
  local id codename
  id=$(. /etc/os-release && printf '%s' "$ID")
  codename=$(. /etc/os-release && printf '%s' "$VERSION_CODENAME")
  add_apt_repo docker "https://download.docker.com/linux/$id/gpg" \
    "deb [arch=$(dpkg --print-architecture) signed-by=@KEYRING@] https://download.docker.com/linux/$id $codename stable"
}

# The upstream Kubernetes packages of one minor (kubelet, kubeadm, kubectl, cri-tools, kubernetes-cni).
add_kubernetes_repo() {
  local channel=$1
  add_apt_repo kubernetes "https://pkgs.k8s.io/core:/stable:/$channel/deb/Release.key" \
    "deb [signed-by=@KEYRING@] https://pkgs.k8s.io/core:/stable:/$channel/deb/ /"
}

# What every Kubernetes node needs from the kernel: overlayfs, bridged traffic seen by iptables, forwarding.
kernel_prerequisites() {
  printf 'overlay\nbr_netfilter\n' >/etc/modules-load.d/kbs-lab.conf
  modprobe overlay
  modprobe br_netfilter
  cat >/etc/sysctl.d/90-kbs-lab.conf <<'EOF'
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
EOF
  sysctl -q --system
}

# With several masters every node resolves the control-plane endpoint's name (KBS_LAB_API_HOSTS_ENTRY,
# "ADDRESS NAME") through /etc/hosts. Appended in place, not replaced: Docker bind-mounts a container's /etc/hosts.
add_api_hosts_entry() {
  local entry=${KBS_LAB_API_HOSTS_ENTRY:-}
  [ -n "$entry" ] || return 0
  [[ $entry =~ ^[0-9.]+\ [A-Za-z0-9.-]+$ ]] || die "KBS_LAB_API_HOSTS_ENTRY '$entry' is not 'ADDRESS NAME'"
  grep -qxF "$entry" /etc/hosts || printf '%s\n' "$entry" >>/etc/hosts
}

# wait_for_file FILE SECONDS WHAT: until FILE exists and is not empty.
wait_for_file() {
  local file=$1 seconds=$2 what=$3 waited=0
  until [ -s "$file" ]; do
    [ "$waited" -lt "$seconds" ] || die "no $file after ${seconds}s" "$what"
    [ $((waited % 60)) -ne 0 ] || say "waiting for $file"
    sleep 1 # the machines come up in parallel: a join starts within a second of the command's publication
    waited=$((waited + 1))
  done
}

# --- files ----------------------------------------------------------------------------------------------------

# publish SRC DEST: copy through a temporary file (a reader never sees half a file), readable by its owner only.
# VirtualBox shared folders refuse chmod; there the host's umask decides, hence the tolerated failure.
publish() {
  local src=$1 dest=$2 tmp
  mkdir -p "$(dirname "$dest")"
  tmp=$dest.tmp.$$
  (umask 077 && cp "$src" "$tmp")
  chmod 0600 "$tmp" 2>/dev/null || true
  mv -f "$tmp" "$dest"
}
