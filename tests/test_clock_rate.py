"""FEEDBACKBOT_CLOCK_RATE: a faster clock for the reliability suite, the wall clock otherwise."""

from __future__ import annotations

import time

import pytest

from bot.clock_rate import clock_from_env
from bot.models import utcnow


def test_unset_or_one_is_the_wall_clock():
    assert clock_from_env({}) is utcnow
    assert clock_from_env({"FEEDBACKBOT_CLOCK_RATE": "1"}) is utcnow


def test_a_rate_makes_time_pass_that_many_times_faster():
    clock = clock_from_env({"FEEDBACKBOT_CLOCK_RATE": "100"})
    first = clock()
    time.sleep(0.05)
    passed = (clock() - first).total_seconds()
    assert passed >= 5.0
    assert abs((clock() - utcnow()).total_seconds()) < 60  # it starts from now


@pytest.mark.parametrize("text", ["fast", "0.5", "0", "-3", "nan"])
def test_a_rate_that_is_not_a_number_of_at_least_one_is_refused(text):
    with pytest.raises(ValueError, match="FEEDBACKBOT_CLOCK_RATE"):
        clock_from_env({"FEEDBACKBOT_CLOCK_RATE": text})
