"""The operator's label against the robot's success check: flagged per row, rejected by the default rules."""

from teleforge.curation.rules import default_rules
from teleforge.curation.store import _label_disagrees


def test_label_disagrees_is_judged_on_the_effective_outcome():
    assert _label_disagrees({"success_check": False}, "success") == 1
    assert _label_disagrees({"success_check": True}, "failure") == 1
    assert _label_disagrees({"success_check": True}, "success") == 0
    assert _label_disagrees({"success_check": False}, "unknown") == 0  # no claim, no contradiction
    assert _label_disagrees({}, "success") == 0  # a robot without a check


def test_default_rules_reject_a_disagreeing_label():
    rule = next(r for r in default_rules().rules if r.name == "label_disagrees")
    assert rule.evaluate({"label_disagrees": 1, "task": "pick_cube"})[0]
    assert not rule.evaluate({"label_disagrees": 0, "task": "pick_cube"})[0]
