"""Day two: `kbs upgrade plan` and `kbs upgrade apply`, kubeadm's static-pod upgrade with automatic rollback.

plan.py    pure: the skew rules, the steps (component, old manifest, new manifest) and the rollback order
state.py   the upgrade's journal in the reconciler's state directory, so a re-run finishes or rolls back
apply.py   the orchestration: preflight, backups (manifests and an etcd snapshot), one component at a time
waiting.py when a rewritten static pod counts as upgraded: the mirror pod's config hash, image and health
"""
