"""The pinned digests and the amendments log: a changed declaration without an amendment is named
with what to add; the chain current == pinned == latest digest_after is checked."""
import dataclasses
import textwrap

import pytest

from claims import preregistration as pre
from claims.registry import select

ENTRY = """
[[amendment]]
date = "{date}"
commit = "abc1234"
claim = "{claim}"
what = "tolerance 0.3 -> 0.4"
why = "a reason"
data_seen = "{seen}"
verdict_before = "at seed 0, budget default: violated, 1.0 [0.9, 1.1]"
verdict_after = "at seed 0, budget default: inconclusive, 1.0 [0.9, 1.1]"
digest_before = "{before}"
digest_after = "{after}"
"""


def _log(tmp_path, *entries, name="amendments.toml"):
    path = tmp_path / name
    path.write_text("".join(textwrap.dedent(ENTRY).format(**{"date": "2026-12-03", "claim": "x.claim",
                                                              "seen": "the default run", **e}) for e in entries))
    return pre.load_log(path)


def test_an_unchanged_declaration_with_its_log_is_clean(tmp_path) -> None:
    log = _log(tmp_path, {"before": "", "after": "d1"})
    assert pre.chain_problems(log, {"x.claim": "d1"}, {"x.claim": "d1"}) == []


def test_a_changed_digest_without_an_amendment_says_what_to_add(tmp_path) -> None:
    log = _log(tmp_path, {"before": "", "after": "d1"})
    problems = pre.chain_problems(log, {"x.claim": "d1"}, {"x.claim": "d2"})
    assert len(problems) == 1
    assert "x.claim" in problems[0] and 'digest_before = "d1"' in problems[0] and 'digest_after = "d2"' in problems[0]
    assert "amendments.toml" in problems[0] and "declarations.txt" in problems[0]


def test_a_pinned_digest_without_its_amendment_fails(tmp_path) -> None:
    log = _log(tmp_path, {"before": "", "after": "d1"})
    problems = pre.chain_problems(log, {"x.claim": "d2"}, {"x.claim": "d2"})
    assert problems and "not the digest_after of any amendment" in problems[0]


def test_with_the_amendment_the_chain_is_clean_and_a_broken_chain_is_named(tmp_path) -> None:
    log = _log(tmp_path, {"before": "", "after": "d1"}, {"before": "d1", "after": "d2"})
    assert pre.chain_problems(log, {"x.claim": "d2"}, {"x.claim": "d2"}) == []
    broken = _log(tmp_path, {"before": "", "after": "d1"}, {"before": "d0", "after": "d2"})
    assert any("digest_before d0" in p for p in pre.chain_problems(broken, {"x.claim": "d2"}, {"x.claim": "d2"}))


def test_a_dropped_reading_ends_with_removed(tmp_path) -> None:
    log = _log(tmp_path, {"before": "", "after": "d1", "claim": "x.claim@r"})
    assert any("removed" in p for p in pre.chain_problems(log, {}, {}))
    log = _log(tmp_path, {"before": "", "after": "d1", "claim": "x.claim@r"},
               {"before": "d1", "after": pre.REMOVED, "claim": "x.claim@r"})
    assert pre.chain_problems(log, {}, {}) == []
    assert any("no longer declared" in p for p in pre.chain_problems(log, {"x.claim@r": "d1"}, {}))


def test_one_entry_moves_several_keys_with_a_table(tmp_path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(textwrap.dedent("""
        [[amendment]]
        date = "2026-12-03"
        commit = ""
        claim = "x.claim"
        reading = "r"
        what = "w"
        why = "y"
        data_seen = "none"
        verdict_before = "not measured"
        verdict_after = "not measured"
        [amendment.digest_before]
        "x.claim" = "a1"
        "x.claim@r" = "b1"
        [amendment.digest_after]
        "x.claim" = "a2"
        "x.claim@r" = "b2"
        """))
    log = pre.load_log(path)
    assert pre.changes(log[0]) == {"x.claim": ("a1", "a2"), "x.claim@r": ("b1", "b2")}
    assert not pre.data_was_seen(log[0])


@pytest.mark.parametrize("text, message", [
    ('[[amendment]]\ndate = "2026-12-03"\n', "missing or empty field"),
    ('[[amendment]]\ndate = "2026-12-03"\ncommit = ""\nclaim = "c"\nwhat = ""\nwhy = "y"\ndata_seen = "d"\n'
     'verdict_before = "b"\nverdict_after = "a"\n', r"missing or empty field\(s\) \['what'\]"),
    ('[[amendment]]\ndate = "3 Dec"\ncommit = ""\nclaim = "c"\nwhat = "w"\nwhy = "y"\ndata_seen = "d"\n'
     'verdict_before = "b"\nverdict_after = "a"\n', "not YYYY-MM-DD"),
    ("[[amendment]\n", "not valid TOML"),
])
def test_a_malformed_log_is_named(tmp_path, text, message) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(pre.AmendmentsError, match=message):
        pre.load_log(path)
    with pytest.raises(pre.AmendmentsError, match="cannot read"):
        pre.load_log(tmp_path / "missing.toml")


def test_amendments_of_a_claim_and_the_after_measured_flag(tmp_path) -> None:
    log = _log(tmp_path, {"before": "", "after": "d1", "seen": "none (declared before any run)"},
               {"before": "d1", "after": "d2", "claim": "x.claim"}, {"before": "", "after": "", "claim": "y.claim"})
    mine = pre.amendments_for("x.claim", log)
    assert len(mine) == 2 and [pre.data_was_seen(e) for e in mine] == [False, True]
    assert "tolerance 0.3 -> 0.4" in pre.amendment_text(mine[1])


def test_pinned_file_round_trip(tmp_path) -> None:
    path = tmp_path / "declarations.txt"
    path.write_text(pre.render_pinned({"a.b": "d1", "a.b@r/1": "d2"}))
    assert pre.load_pinned(path) == {"a.b": "d1", "a.b@r/1": "d2"}
    path.write_text("a.b\n")
    with pytest.raises(pre.AmendmentsError, match="CLAIM_ID"):
        pre.load_pinned(path)


def test_current_digests_name_every_claim_and_reading() -> None:
    claim = select(["nfd.two_layer_block_collapse"])[0]
    digests = pre.current_digests([claim])
    assert list(digests) == ["nfd.two_layer_block_collapse", "nfd.two_layer_block_collapse@weight-update",
                             "nfd.two_layer_block_collapse@total-change"]
    changed = dataclasses.replace(claim, tolerance=0.3)
    assert pre.current_digests([changed])["nfd.two_layer_block_collapse"] != digests["nfd.two_layer_block_collapse"]


def test_package_commit_is_a_commit_or_says_it_is_not_a_checkout() -> None:
    commit = pre.package_commit()
    assert commit == pre.NOT_GIT or len(commit.removesuffix("-dirty")) == 40


def test_the_skeleton_names_every_moved_key_with_its_digests(tmp_path) -> None:
    log = _log(tmp_path, {"before": "", "after": "d1"})
    text = pre.skeleton(log, {"x.claim": "d1", "x.claim@gone": "g1"}, {"x.claim": "d2"}, date="2026-12-03")
    path = tmp_path / "skeleton.toml"
    path.write_text(text.replace('""  # to write', '"filled"'))
    (tmp_path / "raw.toml").write_text(text)
    with pytest.raises(pre.AmendmentsError, match="empty"):  # the text fields must be written
        pre.load_log(tmp_path / "raw.toml")
    entry = pre.load_log(path)[0]
    assert pre.changes(entry) == {"x.claim": ("d1", "d2"), "x.claim@gone": ("g1", pre.REMOVED)}
    assert pre.skeleton(log, {"x.claim": "d1"}, {"x.claim": "d1"}) == ""
