"""What a verification prints and returns: one line per claim (the reason for not applicable and
error; a confidence set of two rays as two rays) and an exit status a CI can trust."""
import pytest

from claims.verify import EXIT_STATUS, ci_text, exit_status, summary_line

BASE = {"id": "marion.x", "prediction": 0.5, "tolerance": 0.05, "seconds": 1.0, "estimate": None, "ci": [None, None]}


def test_a_two_ray_confidence_set_prints_as_two_rays_not_as_na():
    entry = {**BASE, "verdict": "violated", "estimate": 3.58e14, "ci_pieces": [[None, -6.0e7], [6.0e7, None]]}
    assert ci_text(entry) == "(-inf, -6e+07] u [6e+07, inf)"
    assert "CI (-inf, -6e+07] u [6e+07, inf)" in summary_line(entry)
    assert ci_text({**BASE, "verdict": "holds", "ci_pieces": [[0.49, 0.51]]}) == "[0.49, 0.51]"


@pytest.mark.parametrize("verdict", ["error", "not applicable"])
def test_the_line_of_an_error_or_not_applicable_claim_gives_its_reason_on_one_line(verdict):
    line = summary_line({**BASE, "verdict": verdict, "message": "plug-in 'p' failed validation:\n  NaN"})
    assert "\n" not in line and line.endswith("reason: plug-in 'p' failed validation: NaN") and "est" not in line


@pytest.mark.parametrize("verdicts, status", [
    (["holds"], 0), (["holds", "not applicable"], 0), (["not applicable"], 4), ([], 4),
    (["holds", "violated"], 1), (["error"], 1), (["error", "not applicable"], 1),
    (["holds", "inconclusive"], 3), (["reading-dependent", "not applicable"], 3),
])
def test_exit_status_is_0_only_when_something_was_checked_and_nothing_failed(verdicts, status):
    assert exit_status({"claims": [{"verdict": v} for v in verdicts]}) == status
    assert status in EXIT_STATUS
