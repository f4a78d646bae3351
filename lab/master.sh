#!/usr/bin/env bash
# Provision a master of the kbs Vagrant lab, whatever the provider: Docker, kubectl and kbs (installed from the
# project folder; the Docker provider's node image has them), then
#   master-1:       `kbs init` with lab/kbs-lab.yaml and the flannel pod network (with several masters also
#                   --upload-certs and the lab's controlPlaneEndpoint); it publishes admin.conf, the workers'
#                   `kubeadm join` command and the control planes' join command in the shared folder;
#   other masters:  `kbs join ENDPOINT --control-plane --token T --discovery-token-ca-cert-hash sha256:H
#                   --certificate-key K`, with what master-1 published.
#
# Environment (the Vagrantfile sets the first ones; the others let tests run the same path on any machine):
#   KBS_LAB_ADDRESS             this node's private address, advertised by the API server (required)
#   KBS_LAB_NODE_NAME           node name (default: the short host name)
#   KBS_LAB_SOURCE              the project folder (default: the one holding this script; /vagrant in the VMs)
#   KBS_LAB_SHARED_DIR          where admin.conf and the join commands are published (default: <source>/lab/out)
#   KBS_LAB_KUBERNETES_VERSION  default: kbs's default version (bootstrap/versions.toml)
#   KBS_LAB_INIT                1 (default): run `kbs init`; 0: join master-1's control plane
#   KBS_LAB_CONTROL_PLANE_ENDPOINT  host:port of the API for every master (set when there are several masters)
#   KBS_LAB_API_HOSTS_ENTRY     "ADDRESS NAME": an /etc/hosts line that makes the endpoint's name resolve
#   KBS_LAB_JOIN_WAIT_SECONDS   how long a joining master waits for master-1's command (default 1800)
#   KBS_LAB_KUBECONFIG_USER     also install admin.conf as root's and this user's ~/.kube/config (VMs: vagrant)
#   KBS_LAB_SKIP_PACKAGES       1: install nothing; use the kbs command as it is (the Docker provider's nodes)
#   KBS_LAB_KBS                 the kbs command (default: kbs)
#   KBS_LAB_ROOT                prefix of every node path kbs uses (default: none, so /etc/kubernetes...);
#                               the real test puts a whole control plane under a temporary directory this way
#
# Safe to run again (`vagrant provision master-1`): packages are kept, kbs is reinstalled from the folder,
# `kbs init` converges on what is there, a master that has joined is left alone, and the published files are
# replaced whole.
set -euo pipefail

SOURCE=${KBS_LAB_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
[ -f "$SOURCE/lab/common.sh" ] || {
  echo "kbs-lab: error: $SOURCE is not the kbs project folder (no lab/common.sh); set KBS_LAB_SOURCE" >&2
  exit 1
}
# shellcheck source=lab/common.sh
. "$SOURCE/lab/common.sh"

KBS_VENV=/opt/kbs
CONTROL_PLANE_JOIN_PATTERN='^kubeadm join [^ ]+ --token [a-z0-9]{6}\.[a-z0-9]{16} '
CONTROL_PLANE_JOIN_PATTERN+='--discovery-token-ca-cert-hash sha256:[0-9a-f]{64} --control-plane --certificate-key [0-9a-f]{64}$'

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

# write_config ADDRESS NODE_NAME VERSION ROOT ENDPOINT DEST: lab/kbs-lab.yaml with its placeholders filled in
# (without a controlPlaneEndpoint line when ENDPOINT is empty: one master is reached at its own address).
write_config() {
  local dest=$6 endpoint_edit="s|__CONTROL_PLANE_ENDPOINT__|$5|g"
  [ -n "$5" ] || endpoint_edit="/__CONTROL_PLANE_ENDPOINT__/d"
  mkdir -p "$(dirname "$dest")"
  sed -e "s|__ADDRESS__|$1|g" -e "s|__NODE_NAME__|$2|g" -e "s|__KUBERNETES_VERSION__|$3|g" -e "s|__ROOT__|$4|g" \
    -e "$endpoint_edit" "$SOURCE/lab/kbs-lab.yaml" >"$dest.tmp"
  mv -f "$dest.tmp" "$dest"
}

# Every `kubeadm join ...` command in kbs init's output, one per line (they are printed broken with `\`).
extract_join_commands() {
  awk '
    /^[[:space:]]*kubeadm join / { collecting = 1; command = "" }
    collecting {
      line = $0
      sub(/^[[:space:]]+/, "", line)
      continued = sub(/[[:space:]]*\\[[:space:]]*$/, "", line)
      command = command (command == "" ? "" : " ") line
      if (!continued) { collecting = 0; print command }
    }
  ' "$1"
}

install_user_kubeconfig() {
  local admin=$1 user=$2 home
  install -D -m 0600 "$admin" /root/.kube/config
  [ "$user" != root ] || return 0
  home=$(getent passwd "$user" | cut -d: -f6)
  [ -n "$home" ] || die "no user $user for KBS_LAB_KUBECONFIG_USER"
  install -D -m 0600 -o "$user" -g "$(id -gn "$user")" "$admin" "$home/.kube/config"
  chown "$user:$(id -gn "$user")" "$home/.kube"
}

init_master() {
  local address=$1 node_name=$2 version=$3 root=$4 kbs=$5 shared=$6 endpoint=${KBS_LAB_CONTROL_PLANE_ENDPOINT:-}
  local config work join control_plane_join
  local -a extra=()
  config=$root/etc/kbs/lab.yaml
  write_config "$address" "$node_name" "$version" "$root" "$endpoint" "$config"
  # Several masters: the shared certificates go to the cluster, encrypted, for `kbs join --control-plane`.
  [ -z "$endpoint" ] || extra+=(--upload-certs)
  say "kbs init --config $config --pod-network=flannel ${extra[*]} (Kubernetes $version, advertising $address)"
  work=$(mktemp -d) # kbs init's output holds the bootstrap token and the certificate key: private, removed on exit
  # shellcheck disable=SC2064  # expand now: $work is local to this function
  trap "rm -rf '$work'" EXIT
  if ! "$kbs" init --config "$config" --pod-network=flannel "${extra[@]}" 2>&1 | tee "$work/init.log"; then
    die "kbs init failed on $node_name" "read the diagnosis above, fix the cause and provision again (it is safe)"
  fi

  extract_join_commands "$work/init.log" >"$work/joins"
  join=$(grep -v -- ' --control-plane' "$work/joins" | tail -n 1 || true)
  [[ $join == "kubeadm join "*" --token "*" --discovery-token-ca-cert-hash sha256:"* ]] ||
    die "kbs init printed no kubeadm join command" "run '$kbs init phase show-join-command --config $config'"
  printf '%s\n' "$join" >"$work/join-command"
  if [ -n "$endpoint" ]; then
    control_plane_join=$(grep -- ' --control-plane --certificate-key ' "$work/joins" | tail -n 1 || true)
    [ -n "$control_plane_join" ] || die "kbs init printed no control-plane join command with a certificate key" \
      "run '$kbs init phase upload-certs --upload-certs --config $config'"
    printf '%s\n' "$control_plane_join" >"$work/join-command-control-plane"
    publish "$work/join-command-control-plane" "$shared/join-command-control-plane"
  fi
  publish "$work/join-command" "$shared/join-command"
  publish_admin_conf "$root/etc/kubernetes/admin.conf" "$address" "$shared/admin.conf"
  [ -z "${KBS_LAB_KUBECONFIG_USER:-}" ] ||
    install_user_kubeconfig "$root/etc/kubernetes/admin.conf" "$KBS_LAB_KUBECONFIG_USER"
  say "published $shared/admin.conf and the join commands"
}

# The admin kubeconfig for the host: the control-plane endpoint's name may resolve only on the lab's machines, so
# the published copy names master-1's address (which the API server's certificate holds too).
publish_admin_conf() {
  local admin=$1 address=$2 dest=$3 tmp
  tmp=$(mktemp)
  sed -E "s|^([[:space:]]*server: https://).*$|\1$address:6443|" "$admin" >"$tmp"
  publish "$tmp" "$dest"
  rm -f "$tmp"
}

# Join master-1's control plane with the command it published (`kubeadm join ... --control-plane
# --certificate-key K`), run as `kbs join`: kbs runs the control plane, not a kubelet.
join_master() {
  local address=$1 node_name=$2 root=$3 kbs=$4 shared=$5 line
  local -a words extra=()
  if [ -f "$root/etc/kubernetes/manifests/kube-apiserver.yaml" ] && [ -f "$root/etc/kubernetes/admin.conf" ]; then
    say "$node_name has joined already (its manifests and admin.conf exist): nothing to do"
    return
  fi
  wait_for_file "$shared/join-command-control-plane" "${KBS_LAB_JOIN_WAIT_SECONDS:-1800}" \
    "master-1 publishes it when kbs init succeeds with several masters: see 'vagrant provision master-1'"
  read -r line <"$shared/join-command-control-plane"
  [[ $line =~ $CONTROL_PLANE_JOIN_PATTERN ]] || die "$shared/join-command-control-plane is not a control-plane join \
command" "provision master-1 again to rewrite it"
  read -r -a words <<<"$line"
  # kbs join takes kubeadm's flags; older builds may lack the optional ones, so they are added when offered.
  if "$kbs" join --help 2>/dev/null | grep -q -- '--apiserver-advertise-address'; then
    extra+=(--apiserver-advertise-address "$address")
  fi
  if "$kbs" join --help 2>/dev/null | grep -q -- '--node-name'; then
    extra+=(--node-name "$node_name")
  fi
  say "joining ${words[2]} as control plane $node_name"
  "$kbs" join "${words[2]}" --control-plane --token "${words[4]}" --discovery-token-ca-cert-hash "${words[6]}" \
    --certificate-key "${words[9]}" "${extra[@]}" ||
    die "kbs join --control-plane failed on $node_name" "if the certificate key is older than 2 hours, run \
'vagrant provision master-1' and then 'vagrant provision $node_name'"
  [ -z "${KBS_LAB_KUBECONFIG_USER:-}" ] ||
    install_user_kubeconfig "$root/etc/kubernetes/admin.conf" "$KBS_LAB_KUBECONFIG_USER"
}

main() {
  local address=${KBS_LAB_ADDRESS:-} node_name=${KBS_LAB_NODE_NAME:-} root=${KBS_LAB_ROOT:-} kbs=${KBS_LAB_KBS:-kbs}
  local shared=${KBS_LAB_SHARED_DIR:-$SOURCE/lab/out} version
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
  add_api_hosts_entry

  if [ "${KBS_LAB_INIT:-1}" = 1 ]; then
    init_master "$address" "$node_name" "$version" "$root" "$kbs" "$shared"
  else
    join_master "$address" "$node_name" "$root" "$kbs" "$shared"
  fi
}

main "$@"
