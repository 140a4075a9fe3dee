"""A policy version's digest identifies its content."""

from __future__ import annotations

from dataclasses import replace

from orderloom.policy import load_example


def test_the_digest_ignores_who_saved_it_and_changes_with_content() -> None:
    v = load_example("douyin_first_order")
    assert replace(v, author="someone else", note="x", digest="").digest == v.digest
    assert replace(v, input_schema={"type": "object", "properties": {}}, digest="").digest != v.digest
    assert len(v.digest) == 64
