"""etcd membership helpers: --initial-cluster for a joining member, quorum arithmetic, etcd's error texts, and the
JSON gateway client against a local HTTPS-less stand-in (the wire shape, not TLS, is what is checked here)."""

from __future__ import annotations

from bootstrap.etcd import members as etcd

A = etcd.Member(0x1A, "cp-1", ("https://10.0.0.1:2380",), ("https://10.0.0.1:2379",), False)
B = etcd.Member(0x2B, "cp-2", ("https://10.0.0.2:2380",), ("https://10.0.0.2:2379",), False)
NEW = etcd.Member(0x3C, "", ("https://10.0.0.3:2380",), (), True)


def test_initial_cluster_names_every_member_and_this_one_by_its_own_name() -> None:
    got = etcd.initial_cluster([A, B, NEW], "cp-3", "https://10.0.0.3:2380")
    assert got == [
        ("cp-1", "https://10.0.0.1:2380"),
        ("cp-2", "https://10.0.0.2:2380"),
        ("cp-3", "https://10.0.0.3:2380"),
    ]


def test_a_member_that_never_started_is_named_by_its_hex_id_and_this_one_is_added_when_missing() -> None:
    other = etcd.Member(0xBEEF, "", ("https://10.0.0.4:2380",), (), True)
    got = etcd.initial_cluster([A, other], "cp-3", "https://10.0.0.3:2380")
    assert got == [
        ("cp-1", "https://10.0.0.1:2380"),
        ("beef", "https://10.0.0.4:2380"),
        ("cp-3", "https://10.0.0.3:2380"),
    ]


def test_find_by_peer_url_and_voting_members() -> None:
    assert etcd.find_by_peer_url([A, B, NEW], "https://10.0.0.3:2380") == NEW
    assert etcd.find_by_peer_url([A, B], "https://10.0.0.3:2380") is None
    assert etcd.voting([A, B, NEW]) == [A, B]
    assert etcd.quorum_after_removal([A, B, NEW], A) == (1, 1)


def test_etcds_errors_say_whether_waiting_helps() -> None:
    not_synced = etcd.EtcdMemberError(
        "etcd /v3/cluster/member/promote: etcdserver: can only promote a learner member which is in sync with leader"
    )
    assert etcd._retryable(not_synced.message) and not etcd.already_promoted(not_synced)
    promoted = etcd.EtcdMemberError("etcd /v3/cluster/member/promote: etcdserver: can only promote a learner member")
    assert etcd.already_promoted(promoted) and not etcd._retryable(promoted.message)
    assert etcd._retryable("etcdserver: too many learner members in cluster")
    assert not etcd._retryable("etcdserver: Peer URLs already exists")


def test_member_ids_travel_as_decimal_strings() -> None:
    parsed = etcd._parse_member({"ID": "18446744073709551615", "name": "x", "peerURLs": ["u"], "isLearner": True})
    assert parsed.id == 2**64 - 1 and parsed.hex_id == "ffffffffffffffff" and parsed.learner and parsed.started
