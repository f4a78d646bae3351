"""Certificates that renew themselves: the bundled reconciler renews leaf certificates and kubeconfig files
before they expire (never a CA) and restarts the static pods that read them, one at a time.

    policy.py  pure: when a file is due (min(30 days, a third of its lifetime) left, or renewBefore), which
               static pods each file concerns, the order of restarts
    worker.py  the daemon thread beside the reconciler (`kbs reconcile --config`): check, renew, restart, record
"""
