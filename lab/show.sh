#!/usr/bin/env bash
# The end of `make lab`, on the host: wait until every machine of the lab is a Ready node, then print the nodes
# and the mirror pods of every master (the control-plane static pods kbs runs on Docker).
#
#   lab/show.sh KUBECTL [TIMEOUT_SECONDS]     # KUBECTL: a kubectl binary; the lab's settings give the node count
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kubectl_bin=${1:?usage: lab/show.sh KUBECTL [TIMEOUT_SECONDS]}
timeout=${2:-300}

# The node count and the published kubeconfig, from the same settings the Vagrantfile read.
read -r expected admin < <(cd "$ROOT" && ruby -r ./lab/settings.rb \
  -e 'plan = KbsLab.plan; puts "#{plan.nodes.size} #{File.join(plan.host_shared_dir, "admin.conf")}"')
[ -s "$admin" ] || { echo "kbs-lab: error: no $admin: is the lab up? (make lab)" >&2; exit 1; }
kubectl=("$kubectl_bin" --kubeconfig "$admin")

# A worker's node appears a moment after its `kubeadm join` returns (its kubelet registers it), so count first.
waited=0
until [ "$("${kubectl[@]}" get nodes --no-headers 2>/dev/null | grep -c ' Ready ')" -ge "$expected" ]; do
  if [ "$waited" -ge "$timeout" ]; then
    "${kubectl[@]}" get nodes -o wide >&2 || true
    echo "kbs-lab: error: not all $expected nodes Ready after ${timeout}s" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done

"${kubectl[@]}" get nodes -o wide
echo
"${kubectl[@]}" get pods -n kube-system -o wide -l tier=control-plane
