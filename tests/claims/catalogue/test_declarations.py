"""The catalogue's declarations are the pinned ones, and every change of one is in the amendments log
(claims/preregistration.py): a changed number, reading, control or line of measure / estimate code
without an [[amendment]] fails here, with the entry to add."""
from claims.preregistration import chain_problems, current_digests, load_log, load_pinned
from claims.registry import all_claims


def test_every_declaration_is_pinned_and_every_change_is_logged() -> None:
    problems = chain_problems(load_log(), load_pinned(), current_digests())
    assert not problems, "declarations changed without an amendment:\n" + "\n".join(problems)


def test_every_logged_claim_exists_or_was_removed() -> None:
    known = {c.id for c in all_claims()}
    for entry in load_log():
        claims = entry["claim"] if isinstance(entry["claim"], list) else [entry["claim"]]
        unknown = [c for c in claims if c != "*" and c not in known and "removed" not in entry["what"]]
        assert not unknown, f"amendment of {entry['date']} names unknown claim(s) {unknown}"
