"""What a sweep records for the front ends is one typed contract (engine.runtime.sweepresults)."""

from __future__ import annotations

from engine.runtime.sweepresults import (
    RECORDED_BY_SUPERVISORS,
    SweepRecord,
    SweepResult,
    early_termination_reason,
    stopped_early,
    stopped_early_properties,
    sweep_run_properties,
)


def test_a_sweep_record_reads_back_what_the_controller_wrote() -> None:
    props = sweep_run_properties("loss", "minimize", {"search_space": {"lr": {"type": "choice", "values": [1]}}})
    assert SweepRecord.from_properties({"other": 1}) is None
    empty = SweepRecord.from_properties(props)
    assert empty is not None and empty.result == SweepResult() and empty.search_space == {"lr": {"type": "choice",
                                                                                                   "values": [1]}}
    result = SweepResult({"Completed": 3, "Failed": 1}, "s_2", 0.25, {"lr": 0.1})
    record = SweepRecord.from_properties({**props, **result.to_properties()})
    assert record is not None and record.result == result
    assert (record.primary_metric, record.goal) == ("loss", "minimize")
    # A re-run starts without the results of the run it repeats.
    assert set(result.to_properties()) <= set(RECORDED_BY_SUPERVISORS)


def test_a_stopped_trial_is_known_by_its_mark_not_by_its_words() -> None:
    marked = stopped_early_properties({"primary_metric": "loss"})
    assert stopped_early("Canceled", marked, "any words at all")
    assert not stopped_early("Canceled", {}, "canceled by the user")
    assert not stopped_early("Failed", marked, None)
    # Trials recorded before the mark existed: the controller's reason still tells.
    assert stopped_early("Canceled", {}, early_termination_reason("bandit policy"))
