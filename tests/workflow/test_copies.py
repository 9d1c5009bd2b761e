"""Ids for nodes added to a copy: above every id in use, subgraphs included; hostile values never crash."""

from __future__ import annotations

from comfyfixer.tools.workflow.copies import bump_ids, next_ids


def test_new_ids_are_above_the_subgraphs_ids_and_counters() -> None:
    doc = {"nodes": [{"id": 3}], "links": [[7, 3, 0, 3, 0, "IMAGE"]], "last_node_id": 3, "last_link_id": 7,
           "definitions": {"subgraphs": [{"nodes": [{"id": 40}], "links": [{"id": 11}],
                                          "state": {"lastNodeId": 41, "lastLinkId": 12}}]}}
    assert next_ids(doc) == (42, 13)  # the editor numbers across the whole workflow
    bump_ids(doc, 42, 13)
    assert (doc["last_node_id"], doc["last_link_id"]) == (42, 13)
    assert doc["definitions"]["subgraphs"][0]["state"] == {"lastNodeId": 42, "lastLinkId": 13}


def test_untrusted_values_count_as_zero() -> None:
    doc = {"nodes": [{"id": "x"}, 5, {"id": True}, {"id": 2}], "links": [[], "bad", {"id": "9"}, [4, 1, 0, 2, 0, "X"]],
           "last_node_id": "oops", "definitions": {"subgraphs": ["junk", {"nodes": "no", "state": {"lastNodeId": "s"}}]}}
    assert next_ids(doc) == (3, 5)
    bump_ids(doc, 3, 5)
    assert doc["last_node_id"] == 3
