#!/usr/bin/env bash
# The tools the lab and packaging tests use besides Python and Docker, from Debian's packages:
# - shellcheck: lints every shell script (tests/real/test_lab_scripts.py);
# - vagrant and its libvirt plugin: `vagrant validate` of the Vagrantfile for both providers
#   (tests/real/test_lab_vagrantfile.py);
# - pipx: `pipx install .` (tests/real/test_packaging_install.py).
# Idempotent: installs only what is missing, so `make test` can call it every time. Needs root (or sudo).
set -euo pipefail

missing=()
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v pipx >/dev/null || missing+=(pipx)
if ! command -v vagrant >/dev/null; then
  missing+=(vagrant vagrant-libvirt)
elif ! dpkg-query -W -f='${Status}' vagrant-libvirt 2>/dev/null | grep -q 'install ok installed'; then
  missing+=(vagrant-libvirt)
fi
[ ${#missing[@]} -gt 0 ] || exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "tools: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
