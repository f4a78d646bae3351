#!/usr/bin/env bash
# The kbs test bed: real Kubernetes control-plane binaries built from the Go module proxy, a Docker engine,
# and images tagged exactly like upstream, so a manifest rendered for upstream images runs unchanged.
#
#   testbed.sh [all]            make the machine ready (what `make testbed` runs); idempotent
#   testbed.sh bin-dir [VER]    print the bin directory of a Kubernetes version (default: the project's default)
#   testbed.sh images           print the image references the test bed provides, one per line (the last
#                               two are the node images: worker, control-plane)
#   testbed.sh node-images DIR  print the directory of the image tars a node of that role preloads
#   testbed.sh docker           only make sure a Docker engine answers
#   testbed.sh gomod VER        (maintainers) write the wrapper Go module for a new Kubernetes version
#   testbed.sh build VER        (maintainers) only build one version's binaries (no Docker, no images)
#   testbed.sh previous         (maintainers) only the previous minor's binaries, images and self-check
#
# Versions come from bootstrap/versions.toml, the table the product reads too, and for the node side (containerd,
# runc, CNI plugins, crictl, CoreDNS, flannel) from tests/testbed/components.toml. Everything built lives under
# ${KBS_TESTBED_DIR:-$HOME/.cache/kbs/testbed}: <version>/bin, the Go module and build caches, dockerd's files.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ROOT=${KBS_TESTBED_DIR:-$HOME/.cache/kbs/testbed}
VERSIONS_TOML=$REPO/bootstrap/versions.toml
REGISTRY=registry.k8s.io
AGNHOST_REPO=$REGISTRY/e2e-test-images/agnhost
LABEL=io.kbs.testbed.sha256

export GOMODCACHE=$ROOT/gomod GOCACHE=$ROOT/gocache GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

say() { printf 'testbed: %s\n' "$*" >&2; }

# Temporary directories under $ROOT (a debootstrap root, an image's build context, the node images' config) are
# made by tmp_dir and removed by the EXIT trap main sets, so a run that dies or is interrupted leaves none behind.
# Only this run's own directories: another testbed.sh (a test asking `bin-dir`) must not touch a build's.
TMP_DIRS=()
tmp_dir() { # tmp_dir VAR PREFIX: a new directory $ROOT/PREFIX.XXXXXX in VAR, registered for removal
  local made; made=$(mktemp -d "$ROOT/$2.XXXXXX") || die "cannot make a temporary directory under $ROOT"
  TMP_DIRS+=("$made")
  printf -v "$1" '%s' "$made"
}
# shellcheck disable=SC2317  # called by the EXIT trap
remove_tmp_dirs() {
  local d
  for d in "${TMP_DIRS[@]}"; do rm -rf -- "$d"; done
  TMP_DIRS=()
}
die() { printf 'testbed: error: %s\n' "$*" >&2; exit 1; }

# --- the version table -------------------------------------------------------------------------------------

# Prints "<k8s version> <etcd tag> <pause tag> <is default: 1|0> <coredns tag>" for every supported version,
# default first.
version_table() {
  python3 - "$VERSIONS_TOML" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    table = tomllib.load(f)
default = table["default"]
rows = sorted(table["versions"].items(), key=lambda kv: kv[0] != default)
for version, row in rows:
    print(version, row["etcd"], row["pause"], int(version == default), row["coredns"])
PY
}
default_version() { version_table | awk '$4 == 1 { print $1 }'; }
# The minor before the default (the upgrade tests' starting point): the newest row whose minor is one less.
previous_version() {
  version_table | awk -v d="$(default_version)" '
    BEGIN { split(d, p, "."); want = p[2] - 1 }
    { split($1, q, "."); if (q[2] == want) print $1 }' | sort -V | tail -n 1
}
# The versions whose whole control plane (binaries and images) the test bed builds: the default and the previous.
full_versions() { default_version; previous_version; }
is_full_version() { full_versions | grep -qx -- "$1"; }
etcd_tag() { version_table | awk -v v="$1" '$1 == v { print $2 }'; }
pause_tag() { version_table | awk -v v="$1" '$1 == v { print $3 }'; }
coredns_tag() { version_table | awk -v v="$1" '$1 == v { print $5 }'; }
bin_dir() { printf '%s/v%s/bin\n' "$ROOT" "${1#v}"; }  # "1.36.3" and "v1.36.3" are the same version

image_refs() {
  local v; v=$(default_version)
  local c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do echo "$REGISTRY/$c:$v"; done
  echo "$REGISTRY/etcd:$(etcd_tag "$v")"
  echo "$REGISTRY/pause:$(pause_tag "$v")"
  echo "$AGNHOST_REPO:$(agnhost_version)"
  echo "$REGISTRY/coredns/coredns:$(coredns_tag "$v")"
  echo "$REGISTRY/kube-proxy:$v"
  flannel_image
  flannel_cni_image
  metrics_server_image
  previous_image_refs
  node_image_refs
}

# The previous minor's whole pairing (the upgrade tests' starting point): its own component images and
# kube-proxy, and its etcd, pause and CoreDNS only where its tags differ from the default's (the same tag is the
# same image).
previous_image_refs() {
  local v d; v=$(previous_version) d=$(default_version)
  local c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do echo "$REGISTRY/$c:$v"; done
  [ "$(etcd_tag "$v")" = "$(etcd_tag "$d")" ] || echo "$REGISTRY/etcd:$(etcd_tag "$v")"
  [ "$(pause_tag "$v")" = "$(pause_tag "$d")" ] || echo "$REGISTRY/pause:$(pause_tag "$v")"
  echo "$REGISTRY/kube-proxy:$v"
  [ "$(coredns_tag "$v")" = "$(coredns_tag "$d")" ] || echo "$REGISTRY/coredns/coredns:$(coredns_tag "$v")"
}

# The pod network's images, tagged like upstream's (flannel's CNI plugin: components.toml says why its tag is
# not its build version).
component_version() { component "$1" | awk '{ print $3 }'; }
flannel_image() { echo "ghcr.io/flannel-io/flannel:$(component_version flannel)"; }
flannel_cni_image() {
  python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["flannel-cni"]["image_tag"])' \
    "$HERE/components.toml" | sed 's#^#ghcr.io/flannel-io/flannel-cni-plugin:#'
}

k8s_module_dir() { printf '%s/k8s.io/kubernetes@%s\n' "$GOMODCACHE" "$1"; }
# metrics-server, tagged like upstream's release image (components.toml says which version and why).
metrics_server_image() { echo "$REGISTRY/metrics-server/metrics-server:$(component_version metrics-server)"; }
agnhost_version() { cat "$(k8s_module_dir "$(default_version)")/test/images/agnhost/VERSION"; }

# --- wrapper modules ---------------------------------------------------------------------------------------

# Writes tests/testbed/modules/k8s-VER/go.mod from the upstream go.mod: same go and godebug lines, and every
# staging module that upstream replaces with ./staging/src/... pinned to its published v0.MINOR.PATCH tag.
write_gomod() {
  local v=$1 dir=$HERE/modules/k8s-$1 upstream
  GOFLAGS=-mod=mod go mod download k8s.io/kubernetes@"$v"
  upstream=$GOMODCACHE/cache/download/k8s.io/kubernetes/@v/$v.mod
  mkdir -p "$dir"
  {
    echo "// Wrapper module: builds Kubernetes $v commands from the Go module proxy. Generated by testbed.sh gomod."
    echo "module kbs.invalid/testbed/k8s"
    echo
    grep -E '^(go|godebug) ' "$upstream"
    echo
    echo "tool ("
    for cmd in $(commands_for "$v"); do echo "	$(command_package "$cmd")"; done
    echo ")"
    echo
    echo "require k8s.io/kubernetes $v"
    echo
    echo "replace ("
    sed -nE 's#^\s*(k8s\.io/[a-z0-9-]+) => \./staging/src/.*#\1#p' "$upstream" | sort -u |
      while read -r m; do echo "	$m => $m ${v/v1./v0.}"; done
    echo ")"
  } >"$dir/go.mod"
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy)
  say "wrote $dir/go.mod and go.sum"
}

# The default version gets the whole control plane plus kubectl and agnhost and the node side; the previous
# minor (the upgrade tests start from it) its control plane, kubectl, kubelet and kube-proxy (with go-runner, its
# image's entrypoint); older minors only kubeadm, which the manifest-fidelity tests compare against.
commands_for() {
  if [ "$1" = "$(default_version)" ]; then
    echo cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubectl cmd/kubeadm test/images/agnhost \
      cmd/kubelet cmd/kube-proxy k8s.io/component-base/logs/kube-log-runner
  elif [ "$1" = "$(previous_version)" ]; then
    echo cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubectl cmd/kubeadm cmd/kubelet \
      cmd/kube-proxy k8s.io/component-base/logs/kube-log-runner
  else
    echo cmd/kubeadm
  fi
}

# cmd/kubelet -> k8s.io/kubernetes/cmd/kubelet; a full module path (kube-log-runner, upstream's go-runner) as is.
command_package() { case "$1" in k8s.io/*) echo "$1" ;; *) echo "k8s.io/kubernetes/$1" ;; esac; }

write_etcd_gomod() {
  local tag=$1 mv="v${1%-*}" dir=$HERE/modules/etcd-v${1%-*}
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<EOF
// Wrapper module: builds etcd $mv (server, etcdctl, etcdutl) from the Go module proxy. Generated by testbed.sh.
module kbs.invalid/testbed/etcd

go 1.26.0

tool (
	go.etcd.io/etcd/etcdctl/v3
	go.etcd.io/etcd/etcdutl/v3
	go.etcd.io/etcd/server/v3
)

require (
	go.etcd.io/etcd/etcdctl/v3 $mv
	go.etcd.io/etcd/etcdutl/v3 $mv
	go.etcd.io/etcd/server/v3 $mv
)
EOF
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy)
  say "wrote $dir/go.mod and go.sum"
}

# The node-side components (tests/testbed/components.toml). Prints "<name> <module> <version> <cgo> <dest>
# <tags> <packages,...> <ldflags> <package=binary,...>" with "-" for what is empty, one line each, in the table's order.
component_table() {
  python3 - "$HERE/components.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    table = tomllib.load(f)
for name, c in table.items():
    ld = c.get("ldflags", "").replace(" ", "\x1f")
    print(name, c["module"], c["version"], c["cgo"], c["dest"], c["tags"].replace(" ", ",") or "-",
          ",".join(c["packages"]), ld or "-",
          ",".join(f"{p}={n}" for p, n in c.get("binaries", {}).items()) or "-")
PY
}
component_replaces() {
  python3 - "$HERE/components.toml" "$1" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)[sys.argv[2]].get("replace", [])))
PY
}
# Which Kubernetes version's bin dir a component's binaries go to: its `for` key, "default" (when absent) or
# "previous" (the previous minor's pairing, e.g. its CoreDNS).
component_for() {
  python3 - "$HERE/components.toml" "$1" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print(tomllib.load(f)[sys.argv[2]].get("for", "default"))
PY
}
component_kubernetes_version() {
  case "$(component_for "$1")" in
    default) default_version ;;
    previous) previous_version ;;
    *) die "components.toml: [$1] for = '$(component_for "$1")': expected \"default\" or \"previous\"" ;;
  esac
}
component() { component_table | awk -v n="$1" '$1 == n'; }
component_names() { component_table | awk '{ print $1 }'; }
component_module_dir() {
  local name _module version _rest
  read -r name _module version _rest <<<"$(component "$1")"
  printf '%s/modules/%s-%s\n' "$HERE" "$name" "$version"
}

# Writes tests/testbed/modules/NAME-VERSION/go.mod for one component: a tool module requiring exactly its tag.
write_component_gomod() {
  local row; row=$(component "$1"); [ -n "$row" ] || die "no component '$1' in components.toml"
  local name module version _cgo _dest _tags pkgs _ld _binaries
  read -r name module version _cgo _dest _tags pkgs _ld _binaries <<<"$row"
  local dir; dir=$(component_module_dir "$name")
  mkdir -p "$dir"
  {
    echo "// Wrapper module: builds $name ($module $version) from the Go module proxy. Generated by testbed.sh."
    echo "module kbs.invalid/testbed/$name"
    echo
    echo "go 1.26.0"
    echo
    echo "tool ("
    local p
    for p in ${pkgs//,/ }; do
      if [ "$p" = . ]; then echo "	$module"; else echo "	$module/$p"; fi
    done
    echo ")"
    echo
    echo "require $module $version"
    local r
    while read -r r; do [ -n "$r" ] && printf '\nreplace %s\n' "$r"; done < <(component_replaces "$name")
  } >"$dir/go.mod"
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy)
  say "wrote $dir/go.mod and go.sum"
}

# --- building ----------------------------------------------------------------------------------------------

# A build is skipped when its stamp (inputs: go.mod, go.sum, flags, Go version) matches the last one.
stamp_of() { { cat "$@"; go version; } | sha256sum | cut -c1-16; }

k8s_ldflags() {
  local v=$1 minor; minor=$(echo "$v" | cut -d. -f2)
  local ld="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ld="$ld -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$ld"
}

build_k8s() {
  local v=$1 mod=$HERE/modules/k8s-$1 out; out=$(bin_dir "$v")
  [ -f "$mod/go.mod" ] || die "no wrapper module for $v: run 'tests/testbed/testbed.sh gomod $v' and commit it"
  local ld; ld=$(k8s_ldflags "$v")
  local stamp; stamp=$(echo "$ld" | stamp_of "$mod/go.mod" "$mod/go.sum" -)
  if [ "$(cat "$out/.stamp-k8s" 2>/dev/null)" = "$stamp" ]; then
    say "Kubernetes $v binaries are up to date in $out"
    return
  fi
  mkdir -p "$out"
  local pkgs=() c
  for c in $(commands_for "$v"); do pkgs+=("$(command_package "$c")"); done
  say "building Kubernetes $v: ${pkgs[*]##*/} (a cold build takes a while)"
  (cd "$mod" && go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ld" -o "$out/" "${pkgs[@]}")
  # Upstream's images name kube-log-runner go-runner (their ENTRYPOINT).
  if [ -f "$out/kube-log-runner" ]; then mv "$out/kube-log-runner" "$out/go-runner"; fi
  echo "$stamp" >"$out/.stamp-k8s"
}

build_etcd() {
  local v=$1 tag; tag=$(etcd_tag "$1")
  local mod=$HERE/modules/etcd-v${tag%-*} out; out=$(bin_dir "$v")
  [ -f "$mod/go.mod" ] || die "no wrapper module for etcd ${tag%-*}: run 'tests/testbed/testbed.sh gomod-etcd $tag'"
  local ld="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=kbs-testbed"
  local stamp; stamp=$(echo "$ld" | stamp_of "$mod/go.mod" "$mod/go.sum" -)
  if [ "$(cat "$out/.stamp-etcd" 2>/dev/null)" = "$stamp" ]; then
    say "etcd ${tag%-*} binaries are up to date in $out"
    return
  fi
  mkdir -p "$out"
  say "building etcd ${tag%-*}"
  (cd "$mod" && go build -trimpath -ldflags "$ld" -o "$out/etcd" go.etcd.io/etcd/server/v3 &&
    go build -trimpath -ldflags "$ld" -o "$out/etcdctl" go.etcd.io/etcd/etcdctl/v3 &&
    go build -trimpath -ldflags "$ld" -o "$out/etcdutl" go.etcd.io/etcd/etcdutl/v3)
  echo "$stamp" >"$out/.stamp-etcd"
}

# The pause binary is C: kubernetes' build/pause/linux/pause.c, compiled static as upstream's Makefile does.
build_pause() {
  local v=$1 out; out=$(bin_dir "$1")
  local src; src=$(k8s_module_dir "$v")/build/pause/linux/pause.c
  local tag; tag=$(pause_tag "$v")
  [ -f "$out/pause" ] && [ "$(cat "$out/.stamp-pause" 2>/dev/null)" = "$tag" ] && return
  command -v gcc >/dev/null || die "gcc is needed to build the pause binary (apt-get install gcc libc6-dev)"
  say "building pause $tag"
  gcc -Os -Wall -Werror -static -DVERSION="v$tag-kbs" -o "$out/pause" "$src"
  echo "$tag" >"$out/.stamp-pause"
}

# build_component NAME: the binaries of one components.toml entry into bin-dir (or bin-dir/cni).
build_component() {
  local row; row=$(component "$1")
  local name module version cgo dest tags pkgs ld binaries
  read -r name module version cgo dest tags pkgs ld binaries <<<"$row"
  [ "$tags" = - ] && tags=""
  [ "$ld" = - ] && ld=""
  ld=${ld//$'\x1f'/ }
  local mod; mod=$(component_module_dir "$name")
  [ -f "$mod/go.mod" ] || die "no wrapper module for $name: run 'tests/testbed/testbed.sh gomod-component $name' and commit it"
  local kv; kv=$(component_kubernetes_version "$name")
  local out; out=$(bin_dir "$kv")/$dest
  out=${out%/.}
  local stamp; stamp=$(echo "$ld $tags $cgo $pkgs $binaries" | stamp_of "$mod/go.mod" "$mod/go.sum" -)
  if [ "$(cat "$out/.stamp-$name" 2>/dev/null)" = "$stamp" ]; then
    say "$name $version is up to date in $out"
    return
  fi
  if [ "$cgo" = 1 ]; then
    # runc links libseccomp: its headers and pkg-config come from Debian's packages.
    pkg-config --exists libseccomp 2>/dev/null || apt_install libseccomp-dev pkg-config
  fi
  mkdir -p "$out"
  say "building $name $version: ${pkgs//,/ }"
  local p target bin
  if [ "$binaries" = - ]; then  # one go build, each command named after its directory
    local targets=()
    for p in ${pkgs//,/ }; do targets+=("$module/$p"); done
    (cd "$mod" && CGO_ENABLED=$cgo go build -trimpath -tags "$tags" -ldflags "$ld" -o "$out/" "${targets[@]}")
  else
    for p in ${pkgs//,/ }; do
      target=$module/$p; [ "$p" = . ] && target=$module
      bin=$(tr ',' '\n' <<<"$binaries" | awk -F= -v p="$p" '$1 == p { print $2 }')
      (cd "$mod" && CGO_ENABLED=$cgo go build -trimpath -tags "$tags" -ldflags "$ld" -o "$out/${bin:-${p##*/}}" "$target")
    done
  fi
  echo "$stamp" >"$out/.stamp-$name"
}

apt_install() {
  say "installing Debian's $* (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- docker ------------------------------------------------------------------------------------------------

ensure_docker() {
  if docker info >/dev/null 2>&1; then
    say "Docker engine answers ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
    return
  fi
  if ! command -v dockerd >/dev/null; then
    say "no Docker engine here: installing Debian's docker.io"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  fi
  local dir=$ROOT/docker
  mkdir -p "$dir"
  say "starting dockerd in the background (pidfile $dir/dockerd.pid, log $dir/dockerd.log)"
  setsid nohup dockerd --pidfile "$dir/dockerd.pid" >>"$dir/dockerd.log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 120); do
    docker info >/dev/null 2>&1 && { say "Docker engine is up after ${i}x0.5s"; return; }
    sleep 0.5
  done
  tail -n 20 "$dir/dockerd.log" >&2
  die "dockerd did not answer within 60s; its log is $dir/dockerd.log"
}

# --- images ------------------------------------------------------------------------------------------------

# The Debian base of the images that need a userland (kube-proxy, flannel, agnhost, the node images): a
# bookworm minbase root made by debootstrap from Debian's packages and imported into Docker, never pulled.
BASE_IMAGE=kbs-testbed/debian:bookworm
BASE_PACKAGES=(bash ca-certificates conntrack curl dnsutils ethtool iproute2 iptables iputils-ping ipset kmod
  libseccomp2 mount netcat-openbsd nftables passwd procps socat util-linux)

debian_mirror() {
  local uri
  uri=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '/^deb / && $3 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

build_base_image() {
  local sum; sum=$(echo "bookworm ${BASE_PACKAGES[*]}" | sha256sum | cut -c1-32)
  [ "$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$BASE_IMAGE" 2>/dev/null)" = "$sum" ] && return
  command -v debootstrap >/dev/null || apt_install debootstrap
  local root; tmp_dir root rootfs
  say "making the Debian base image $BASE_IMAGE (debootstrap --variant=minbase bookworm)"
  local packages; packages=$(IFS=,; echo "${BASE_PACKAGES[*]}")
  if ! debootstrap --variant=minbase --include="$packages" bookworm "$root" "$(debian_mirror)" >"$ROOT/debootstrap.log" 2>&1; then
    rm -rf "$root"
    die "debootstrap failed; its log is $ROOT/debootstrap.log"
  fi
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import \
    -c "LABEL $LABEL=$sum" -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$root"
}

# build_image REF DOCKERFILE FILE...: an image from tests/testbed/image/DOCKERFILE with the files (or
# directories) copied into its context's bin/, and the minimal distroless-like rootfs in its context's rootfs/.
# @BASE@, @WORKDIR@ and @ENTRYPOINT@ in the Dockerfile are replaced by $BASE_IMAGE, $IMG_WORKDIR and
# $IMG_ENTRYPOINT. Skipped when the image's label carries the checksum of exactly these inputs.
build_image() {
  local ref=$1 dockerfile=$HERE/image/$2; shift 2
  local text; text=$(sed -e "s#@BASE@#$BASE_IMAGE#" -e "s#@WORKDIR@#${IMG_WORKDIR:-/}#" \
    -e "s#@ENTRYPOINT@#${IMG_ENTRYPOINT:-}#" "$dockerfile")
  local base_id=""
  grep -q "^FROM $BASE_IMAGE" <<<"$text" && base_id=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")
  local sum; sum=$({ echo "$text$base_id"; files_sum "$@"; } | sha256sum | cut -c1-32)
  if [ "$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$ref" 2>/dev/null)" = "$sum" ]; then
    return
  fi
  local ctx; tmp_dir ctx image-ctx
  cp -a "$HERE/image/rootfs" "$ctx/rootfs"
  mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/tmp" "$ctx/bin"
  chmod 1777 "$ctx/rootfs/tmp"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
  cp -a "$@" "$ctx/bin/"
  printf '%s\n' "$text" >"$ctx/Dockerfile"
  say "building image $ref"
  # The legacy builder needs no buildx plugin and no registry for FROM scratch; its deprecation notice is noise.
  local log
  if ! log=$(DOCKER_BUILDKIT=0 docker build -q --label "$LABEL=$sum" -t "$ref" "$ctx" 2>&1); then
    rm -rf "$ctx"
    die "docker build of $ref failed: $log"
  fi
  rm -rf "$ctx"
}

# Each file's name (relative to the argument it was found under) and content checksum, in a stable order.
files_sum() {
  local a
  for a in "$@"; do
    (cd "$(dirname "$a")" && find "$(basename "$a")" -type f -print0 | sort -z | xargs -0 sha256sum)
  done
}

# The control-plane images of one version: kube-apiserver, kube-controller-manager, kube-scheduler, etcd, pause.
build_control_plane_images() {
  local v=$1 bin; bin=$(bin_dir "$1")
  local c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    IMG_WORKDIR=/ IMG_ENTRYPOINT=/usr/local/bin/$c build_image "$REGISTRY/$c:$v" scratch.Dockerfile "$bin/$c"
  done
  IMG_WORKDIR=/var/lib/etcd IMG_ENTRYPOINT=/usr/local/bin/etcd build_image "$REGISTRY/etcd:$(etcd_tag "$v")" \
    scratch.Dockerfile "$bin/etcd" "$bin/etcdctl" "$bin/etcdutl"
  build_image "$REGISTRY/pause:$(pause_tag "$v")" pause.Dockerfile "$bin/pause"
}

build_images() {
  local v; v=$(default_version)
  local bin; bin=$(bin_dir "$v")
  build_control_plane_images "$v"
  build_previous_control_plane_images
  build_image "$REGISTRY/coredns/coredns:$(coredns_tag "$v")" coredns.Dockerfile "$bin/coredns"
  build_base_image
  build_previous_addon_images
  local porter; porter=$(k8s_module_dir "$v")/test/images/agnhost/porter
  build_image "$AGNHOST_REPO:$(agnhost_version)" agnhost.Dockerfile "$bin/agnhost" \
    "$porter/localhost.crt" "$porter/localhost.key"
  build_image "$REGISTRY/kube-proxy:$v" kube-proxy.Dockerfile "$bin/kube-proxy" "$bin/go-runner"
  build_image "$(flannel_image)" flannel.Dockerfile "$bin/flanneld" "$bin/install-conf"
  build_image "$(flannel_cni_image)" flannel-cni-plugin.Dockerfile "$bin/cni/flannel"
  build_image "$LB_IMAGE" haproxy.Dockerfile "$HERE/image/haproxy/kbs-lb"
  build_image "$(metrics_server_image)" metrics-server.Dockerfile "$bin/metrics-server"
  build_node_images
}

# The previous minor's control-plane images; where its etcd or pause tag is the default's, the same inputs
# rebuild nothing.
build_previous_control_plane_images() {
  local p v; p=$(previous_version) v=$(default_version)
  if [ "$(etcd_tag "$p")" = "$(etcd_tag "$v")" ] && [ "$(pause_tag "$p")" = "$(pause_tag "$v")" ]; then
    local c
    for c in kube-apiserver kube-controller-manager kube-scheduler; do
      IMG_WORKDIR=/ IMG_ENTRYPOINT=/usr/local/bin/$c build_image "$REGISTRY/$c:$p" scratch.Dockerfile "$(bin_dir "$p")/$c"
    done
  else
    build_control_plane_images "$p"
  fi
}

# The previous minor's addons, laid out like the default's: kube-proxy (go-runner entrypoint, Debian userland)
# and, where its tag differs, the CoreDNS its kubeadm pairs (components.toml, [coredns-previous]).
build_previous_addon_images() {
  local p d; p=$(previous_version) d=$(default_version)
  local pbin; pbin=$(bin_dir "$p")
  build_image "$REGISTRY/kube-proxy:$p" kube-proxy.Dockerfile "$pbin/kube-proxy" "$pbin/go-runner"
  local ctag; ctag=$(coredns_tag "$p")
  [ "$ctag" = "$(coredns_tag "$d")" ] && return
  [ "$(component_version coredns-previous)" = "$ctag" ] ||
    die "components.toml: [coredns-previous] version is $(component_version coredns-previous), but bootstrap/versions.toml pairs $p with CoreDNS $ctag"
  build_image "$REGISTRY/coredns/coredns:$ctag" coredns.Dockerfile "$pbin/coredns"
}

# --- node images -------------------------------------------------------------------------------------------

LB_IMAGE=kbs-testbed/haproxy:bookworm  # the labs' API server load balancer (docs/operations.md, High availability)
WORKER_NODE_IMAGE=kbs-testbed/node-worker
CONTROL_PLANE_NODE_IMAGE=kbs-testbed/node-control-plane

node_image_refs() {
  local v; v=$(default_version)
  echo "$WORKER_NODE_IMAGE:$v"
  echo "$CONTROL_PLANE_NODE_IMAGE:$v"
}

# The images each kind of node preloads (saved under $ROOT/node-images/<role>/ and mounted at /testbed/images).
worker_node_payload() {
  local v; v=$(default_version)
  echo "$REGISTRY/pause:$(pause_tag "$v")"
  echo "$REGISTRY/kube-proxy:$v"
  echo "$REGISTRY/coredns/coredns:$(coredns_tag "$v")"
  flannel_image
  flannel_cni_image
  echo "$AGNHOST_REPO:$(agnhost_version)"
}
control_plane_node_payload() {
  local v; v=$(default_version)
  local c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do echo "$REGISTRY/$c:$v"; done
  echo "$REGISTRY/etcd:$(etcd_tag "$v")"
  echo "$REGISTRY/pause:$(pause_tag "$v")"
  echo "$AGNHOST_REPO:$(agnhost_version)"
}

# save_payload ROLE REF...: one tar of the images, rewritten only when an image changed.
save_payload() {
  local role=$1; shift
  local dir=$ROOT/node-images/$role
  local ids; ids=$(docker image inspect -f '{{.Id}}' "$@" | sha256sum | cut -c1-32)
  [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$ids" ] && return
  mkdir -p "$dir"
  say "saving the images a $role node preloads"
  docker save -o "$dir/images.tar.tmp" "$@"
  mv "$dir/images.tar.tmp" "$dir/images.tar"
  echo "$ids" >"$dir/.stamp"
}

# kbs's runtime dependencies as wheels for the control-plane node image, built on the host (whose pip reaches the
# package index) for the node's CPython 3.11.
build_kbs_wheels() {
  local dir=$ROOT/wheels
  local reqs; reqs=$(python3 -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' "$REPO/pyproject.toml")
  [ "$(cat "$dir/requirements.txt" 2>/dev/null)" = "$reqs" ] && return
  say "fetching kbs's dependencies as wheels for the control-plane node image"
  rm -rf "$dir" && mkdir -p "$dir"
  python3 -m pip wheel -q --disable-pip-version-check -w "$dir" -r <(echo "$reqs") ||
    die "pip wheel of kbs's dependencies failed"
  echo "$reqs" >"$dir/requirements.txt"
}

build_node_images() {
  local v; v=$(default_version)
  local bin; bin=$(bin_dir "$v") node=$HERE/image/node
  local cfg; tmp_dir cfg node-cfg
  sed -e "s#@ROOT@#/var/lib/containerd#" -e "s#@STATE@#/run/containerd#" \
    -e "s#@SOCKET@#/run/containerd/containerd.sock#" -e "s#@RUNC@#/usr/local/bin/runc#" \
    -e "s#@CNI_BIN@#/opt/cni/bin#" -e "s#@CNI_CONF@#/etc/cni/net.d#" -e "s#@PAUSE@#$REGISTRY/pause:$(pause_tag "$v")#" \
    "$node/containerd.toml" >"$cfg/containerd.toml"
  build_image "$WORKER_NODE_IMAGE:$v" node/worker.Dockerfile \
    "$bin/containerd" "$bin/containerd-shim-runc-v2" "$bin/ctr" "$bin/runc" "$bin/crictl" "$bin/kubelet" \
    "$bin/kubeadm" "$bin/kubectl" "$node/kbs-node" "$bin/cni" "$cfg/containerd.toml" "$node/crictl.yaml"
  build_kbs_wheels
  build_image "$CONTROL_PLANE_NODE_IMAGE:$v" node/control-plane.Dockerfile \
    "$bin/kubeadm" "$bin/kubectl" "$node/kbs-node" "$ROOT/wheels"
  rm -rf "$cfg"
  mapfile -t refs < <(worker_node_payload)
  save_payload worker "${refs[@]}"
  mapfile -t refs < <(control_plane_node_payload)
  save_payload control-plane "${refs[@]}"
}

# --- self check --------------------------------------------------------------------------------------------

expect() { # expect WHAT OUTPUT NEEDLE
  case "$2" in *"$3"*) ;; *) die "$1 printed '$2', expected it to contain '$3'";; esac
}

run_in() { docker run --rm --network none --entrypoint "$2" "$1" "${@:3}" 2>&1; }

# check_control_plane VERSION: its three control-plane images and its kubectl report that version.
check_control_plane() {
  local v=$1 c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    expect "$c in $REGISTRY/$c:$v" "$(run_in "$REGISTRY/$c:$v" "$c" --version)" "Kubernetes $v"
  done
  expect "kubectl $v" "$("$(bin_dir "$v")/kubectl" version --client 2>&1)" "Client Version: $v"
}

check() {
  local v; v=$(default_version)
  local bin; bin=$(bin_dir "$v")
  check_control_plane "$v"
  local etag; etag=$(etcd_tag "$v")
  expect "etcd in $REGISTRY/etcd:$etag" "$(run_in "$REGISTRY/etcd:$etag" etcd --version)" "etcd Version: ${etag%-*}"
  expect "pause" "$(run_in "$REGISTRY/pause:$(pause_tag "$v")" /pause -v)" "v$(pause_tag "$v")"
  local agn; agn="$AGNHOST_REPO:$(agnhost_version)"
  expect "agnhost" "$(run_in "$agn" /agnhost --help)" "netexec"
  expect "agnhost's entrypoint and command" "$(docker image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$agn")" '["/agnhost"] ["pause"]'
  expect "agnhost-2 and /uploads" "$(run_in "$agn" /bin/ls -d /agnhost-2 /uploads)" "/uploads"
  expect "pause's user" "$(docker image inspect -f '{{.Config.User}} {{json .Config.Entrypoint}}' "$REGISTRY/pause:$(pause_tag "$v")")" '65535:65535 ["/pause"]'
  # The node side.
  expect "kubelet" "$("$bin/kubelet" --version 2>&1)" "Kubernetes $v"
  expect "kube-proxy in $REGISTRY/kube-proxy:$v" "$(run_in "$REGISTRY/kube-proxy:$v" kube-proxy --version)" "Kubernetes $v"
  expect "iptables in $REGISTRY/kube-proxy:$v" "$(run_in "$REGISTRY/kube-proxy:$v" iptables --version)" "iptables v1"
  expect "containerd" "$("$bin/containerd" --version 2>&1)" "$(component_version containerd)"
  expect "runc (with seccomp)" "$("$bin/runc" --version 2>&1)" "libseccomp"
  expect "crictl" "$("$bin/crictl" --version 2>&1)" "$(component_version crictl)"
  expect "CNI bridge" "$("$bin/cni/bridge" 2>&1 </dev/null || true)" "$(component_version cni-plugins)"
  local ctag; ctag=$(coredns_tag "$v")
  expect "coredns" "$(run_in "$REGISTRY/coredns/coredns:$ctag" /coredns -version)" "CoreDNS-${ctag#v}"
  expect "flanneld" "$(run_in "$(flannel_image)" /opt/bin/flanneld --version)" "$(component_version flannel)"
  local ms; ms=$(metrics_server_image)
  expect "metrics-server" "$(run_in "$ms" /metrics-server --version)" "$(component_version metrics-server)"
  expect "metrics-server's user and entrypoint" "$(docker image inspect -f '{{.Config.User}} {{json .Config.Entrypoint}}' "$ms")" '65534 ["/metrics-server"]'
  expect "worker node image" "$(run_in "$WORKER_NODE_IMAGE:$v" kubelet --version)" "Kubernetes $v"
  expect "control-plane node image" "$(run_in "$CONTROL_PLANE_NODE_IMAGE:$v" /opt/kbs/bin/python -c 'import docker, jinja2, cryptography; print("deps ok")')" "deps ok"
  check_previous
  # Every version's kubeadm must agree with the version table the product reads.
  local ver etcd pause _ coredns
  while read -r ver etcd pause _ coredns; do
    local kb; kb=$(bin_dir "$ver")/kubeadm
    expect "kubeadm $ver" "$("$kb" version -o short)" "$ver"
    local list; list=$("$kb" config images list --kubernetes-version "$ver" 2>/dev/null)
    expect "kubeadm $ver images list (etcd in bootstrap/versions.toml)" "$list" "$REGISTRY/etcd:$etcd"
    expect "kubeadm $ver images list (pause in bootstrap/versions.toml)" "$list" "$REGISTRY/pause:$pause"
    expect "kubeadm $ver images list (coredns in bootstrap/versions.toml)" "$list" "$REGISTRY/coredns/coredns:$coredns"
  done < <(version_table)
}

# The previous minor's whole pairing (the upgrade tests start from it): control plane, kubectl, kubelet, its
# addons' images laid out like the default's, etcd and pause.
check_previous() {
  local p; p=$(previous_version)
  local pbin; pbin=$(bin_dir "$p")
  check_control_plane "$p"
  expect "kubelet $p" "$("$pbin/kubelet" --version 2>&1)" "Kubernetes $p"
  local proxy=$REGISTRY/kube-proxy:$p
  expect "kube-proxy in $proxy" "$(run_in "$proxy" kube-proxy --version)" "Kubernetes $p"
  expect "iptables in $proxy" "$(run_in "$proxy" iptables --version)" "iptables v1"
  expect "$proxy's entrypoint" "$(docker image inspect -f '{{json .Config.Entrypoint}}' "$proxy")" '["/go-runner"]'
  local ctag; ctag=$(coredns_tag "$p")
  local dns=$REGISTRY/coredns/coredns:$ctag
  expect "coredns in $dns" "$(run_in "$dns" /coredns -version)" "CoreDNS-${ctag#v}"
  expect "$dns's user and entrypoint" "$(docker image inspect -f '{{.Config.User}} {{json .Config.Entrypoint}}' "$dns")" '65532:65532 ["/coredns"]'
  local etag; etag=$(etcd_tag "$p")
  expect "etcd in $REGISTRY/etcd:$etag" "$(run_in "$REGISTRY/etcd:$etag" etcd --version)" "etcd Version: ${etag%-*}"
  expect "pause $p" "$(run_in "$REGISTRY/pause:$(pause_tag "$p")" /pause -v)" "v$(pause_tag "$p")"
}

# `testbed.sh previous`: only the previous minor's pairing, for maintainers changing it (the default version's
# binaries and images are assumed built; nothing of theirs is rebuilt).
previous() {
  local started=$SECONDS p; p=$(previous_version)
  ensure_docker
  build_k8s "$p"
  build_etcd "$p"
  build_pause "$p"
  local name
  for name in $(component_names); do
    [ "$(component_for "$name")" = previous ] && build_component "$name"
  done
  build_previous_control_plane_images
  build_base_image
  build_previous_addon_images
  check_previous
  say "the previous minor ($p) is ready in $((SECONDS - started))s"
}

summary() {
  local v; v=$(default_version)
  say "ready: Kubernetes $v, the control plane and addons of $(previous_version) (kubeadm also for $(version_table | awk '$4 == 0 { printf "%s ", $1 }'))"
  say "bin dir: $(bin_dir "$v")"
  image_refs | sed 's/^/testbed: image /' >&2
}

all() {
  local started=$SECONDS
  command -v go >/dev/null || die "Go is needed to build the test bed"
  ensure_docker
  local ver _
  while read -r ver _ _ _; do build_k8s "$ver"; done < <(version_table)
  local v; v=$(default_version)
  for ver in $(full_versions); do
    build_etcd "$ver"
    build_pause "$ver"
  done
  local name
  for name in $(component_names); do build_component "$name"; done
  build_images
  check
  summary
  say "done in $((SECONDS - started))s"
}

# The whole script is read before anything runs (main is called on the last line), so editing this file while
# a long build runs does not break that build.
main() {
  case "${1:-all}" in
    all) all ;;
    bin-dir) bin_dir "${2:-$(default_version)}" ;;
    images) image_refs ;;
    node-images) printf '%s/node-images/%s\n' "$ROOT" "${2:?usage: testbed.sh node-images worker|control-plane}" ;;
    docker) ensure_docker ;;
    gomod) write_gomod "${2:?usage: testbed.sh gomod VERSION}" ;;
    gomod-etcd) write_etcd_gomod "${2:?usage: testbed.sh gomod-etcd ETCD_TAG}" ;;
    build) build_k8s "${2:?usage: testbed.sh build VERSION}"; is_full_version "$2" && build_etcd "$2" ;;
    previous) previous ;;
    component) build_component "${2:?usage: testbed.sh component NAME}" ;;
    gomod-component) write_component_gomod "${2:?usage: testbed.sh gomod-component NAME}" ;;
    *) die "unknown command '$1' (all, bin-dir [VERSION], images, docker, previous, gomod VERSION, gomod-etcd TAG)" ;;
  esac
}

# Interrupted (Ctrl-C, a CI timeout's TERM): exit, which runs the EXIT trap; a plain signal death might not.
trap remove_tmp_dirs EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
main "$@"; exit $?
