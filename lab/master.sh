#!/usr/bin/env bash
# Provision a master of the kbs Vagrant lab: Docker, kubectl and kbs (installed from the project folder), then,
# on master-1 only, `kbs init` with lab/kbs-lab.yaml. admin.conf and the `kubeadm join` command kbs printed are
# published in the shared folder for the host and the workers.
#
# Environment (the Vagrantfile sets the first ones; the others let tests run the same path on any machine):
#   KBS_LAB_ADDRESS             this node's private address, advertised by the API server (required)
#   KBS_LAB_NODE_NAME           node name (default: the short host name)
#   KBS_LAB_SOURCE              the project folder (default: the one holding this script; /vagrant in the VMs)
#   KBS_LAB_SHARED_DIR          where admin.conf and join-command are published (default: <source>/lab/out)
#   KBS_LAB_KUBERNETES_VERSION  default: kbs's default version (bootstrap/versions.toml)
#   KBS_LAB_INIT                1 (default): run `kbs init`; 0: only install (masters after the first: kbs has no
#                               control-plane join, so they stay empty)
#   KBS_LAB_KUBECONFIG_USER     also install admin.conf as root's and this user's ~/.kube/config (VMs: vagrant)
#   KBS_LAB_SKIP_PACKAGES       1: install nothing; use the kbs command as it is
#   KBS_LAB_KBS                 the kbs command (default: kbs)
#   KBS_LAB_ROOT                prefix of every node path kbs uses (default: none, so /etc/kubernetes...);
#                               the real test puts a whole control plane under a temporary directory this way
#
# Safe to run again (`vagrant provision master-1`): packages are kept, kbs is reinstalled from the folder,
# `kbs init` converges on what is there, and the published files are replaced whole.
set -euo pipefail

SOURCE=${KBS_LAB_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
[ -f "$SOURCE/lab/common.sh" ] || {
  echo "kbs-lab: error: $SOURCE is not the kbs project folder (no lab/common.sh); set KBS_LAB_SOURCE" >&2
  exit 1
}
# shellcheck source=lab/common.sh
. "$SOURCE/lab/common.sh"

KBS_VENV=/opt/kbs

install_packages() {
  local channel
  channel=$(minor_channel "$1")
  say "installing Docker, kubectl ($channel) and kbs from $SOURCE"
  kernel_prerequisites
  add_docker_repo
  add_kubernetes_repo "$channel"
  apt_install docker-ce docker-ce-cli containerd.io kubectl python3-venv bash-completion
  apt-mark hold kubectl >/dev/null
  systemctl enable --now docker
  [ -x "$KBS_VENV/bin/pip" ] || python3 -m venv "$KBS_VENV"
  # pip rebuilds a project given as a folder every time, so a re-provision picks up the current sources.
  "$KBS_VENV/bin/pip" install --quiet --disable-pip-version-check "$SOURCE"
  ln -sf "$KBS_VENV/bin/kbs" /usr/local/bin/kbs
  _KBS_COMPLETE=bash_source "$KBS_VENV/bin/kbs" >/etc/bash_completion.d/kbs
  kubectl completion bash >/etc/bash_completion.d/kubectl
}

# write_config ADDRESS NODE_NAME VERSION ROOT DEST: lab/kbs-lab.yaml with its placeholders filled in.
write_config() {
  local dest=$5
  mkdir -p "$(dirname "$dest")"
  sed -e "s|__ADDRESS__|$1|g" -e "s|__NODE_NAME__|$2|g" -e "s|__KUBERNETES_VERSION__|$3|g" -e "s|__ROOT__|$4|g" \
    "$SOURCE/lab/kbs-lab.yaml" >"$dest.tmp"
  mv -f "$dest.tmp" "$dest"
}

# The last `kubeadm join ...` command in kbs init's output, on one line (it is printed broken with `\`).
extract_join_command() {
  awk '
    /^[[:space:]]*kubeadm join / { collecting = 1; command = "" }
    collecting {
      line = $0
      sub(/^[[:space:]]+/, "", line)
      continued = sub(/[[:space:]]*\\[[:space:]]*$/, "", line)
      command = command (command == "" ? "" : " ") line
      if (!continued) { collecting = 0; found = command }
    }
    END { if (found != "") print found }
  ' "$1"
}

install_user_kubeconfig() {
  local admin=$1 user=$2 home
  home=$(getent passwd "$user" | cut -d: -f6)
  [ -n "$home" ] || die "no user $user for KBS_LAB_KUBECONFIG_USER"
  install -D -m 0600 "$admin" /root/.kube/config
  install -D -m 0600 -o "$user" -g "$(id -gn "$user")" "$admin" "$home/.kube/config"
  chown "$user:$(id -gn "$user")" "$home/.kube"
}

main() {
  local address=${KBS_LAB_ADDRESS:-} node_name=${KBS_LAB_NODE_NAME:-} root=${KBS_LAB_ROOT:-} kbs=${KBS_LAB_KBS:-kbs}
  local shared=${KBS_LAB_SHARED_DIR:-$SOURCE/lab/out} version config work join
  [ -n "$address" ] || die "KBS_LAB_ADDRESS is not set" "set it to this node's address on the lab network"
  [ -n "$node_name" ] || node_name=$(default_node_name)
  check_address "$address"
  check_node_name "$node_name"
  [[ -z $root || $root =~ ^/[A-Za-z0-9_./-]*[A-Za-z0-9_]$ ]] || die "KBS_LAB_ROOT '$root' is not an absolute path" \
    "use letters, digits, '_', '.', '-' and '/' only, without a trailing slash"
  version=$(lab_kubernetes_version "$SOURCE")

  if [ "${KBS_LAB_SKIP_PACKAGES:-0}" = 1 ]; then
    say "KBS_LAB_SKIP_PACKAGES=1: installing nothing, using $kbs as it is"
  else
    install_packages "$version"
  fi
  command -v "$kbs" >/dev/null || die "no kbs command '$kbs'" "install kbs or set KBS_LAB_KBS"

  if [ "${KBS_LAB_INIT:-1}" != 1 ]; then
    say "$node_name is prepared; only master-1 is initialised by kbs (kbs has no control-plane join yet)"
    return
  fi

  config=$root/etc/kbs/lab.yaml
  write_config "$address" "$node_name" "$version" "$root" "$config"
  say "kbs init --config $config (Kubernetes $version, advertising $address)"
  work=$(mktemp -d) # kbs init's output holds the bootstrap token: private to root, removed on exit
  # shellcheck disable=SC2064  # expand now: $work is local to main
  trap "rm -rf '$work'" EXIT
  if ! "$kbs" init --config "$config" 2>&1 | tee "$work/init.log"; then
    die "kbs init failed on $node_name" "read the diagnosis above, fix the cause and provision again (it is safe)"
  fi

  join=$(extract_join_command "$work/init.log")
  [[ $join == "kubeadm join "*" --token "*" --discovery-token-ca-cert-hash sha256:"* ]] ||
    die "kbs init printed no kubeadm join command" "run '$kbs init phase show-join-command --config $config'"
  printf '%s\n' "$join" >"$work/join-command"
  publish "$work/join-command" "$shared/join-command"
  publish "$root/etc/kubernetes/admin.conf" "$shared/admin.conf"
  [ -z "${KBS_LAB_KUBECONFIG_USER:-}" ] ||
    install_user_kubeconfig "$root/etc/kubernetes/admin.conf" "$KBS_LAB_KUBECONFIG_USER"
  say "published $shared/admin.conf and $shared/join-command"
}

main "$@"
