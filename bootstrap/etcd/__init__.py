"""Backup and restore of the local etcd member: snapshots on disk, the etcd tools run in the etcd image, restore.

snapshots.py  names (k3s-style), the snapshot directory, checksum files, listing, deleting, retention
tools.py      etcdctl / etcdutl run in a throwaway container of the node's own etcd image
save.py       `kbs etcd snapshot save`: atomic, verified, checksummed
restore.py    `kbs etcd snapshot restore`: a re-runnable state machine on a single-member cluster
schedule.py   scheduled snapshots (cron + retention), run by the bundled reconciler
"""
