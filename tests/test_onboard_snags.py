"""Newcomer snags (issue 16): grouped template problems with suggestions, the waiting message's
reason and --ignore-window, import counts that add up, campaign delete, non-ASCII local parts."""

from __future__ import annotations

from outreach.errors import TemplateError
from outreach.templates.problems import group_problems


def test_undefined_names_are_grouped_per_name_with_a_suggestion():
    problems = [TemplateError("'hosptial' is undefined: no field ...", template="t.txt", line=line, contact=f"c{n}@x.org")
                for n in range(51) for line in (2, 4)]
    problems += [TemplateError("'specialy' is undefined: no field ...", template="t.txt", line=4, contact="c1@x.org")]
    groups = [str(g) for g in group_problems(problems, [{"custom": '{"residency_program": "x"}'}])]
    assert groups == [
        "t.txt:2,4  `hosptial` is undefined for 51 contacts (e.g. c0@x.org, c1@x.org, c2@x.org, ...); did you mean `hospital`?",
        "t.txt:4  `specialy` is undefined for c1@x.org; did you mean `specialty`?",
    ]


def test_suggestions_come_from_custom_fields_and_sender_too_and_nonsense_gets_none():
    problems = [TemplateError("'residency_programme' is undefined", template="t.txt", line=1, contact="a@x.org"),
                TemplateError("'outreach.templates.render.Sender object' has no attribute 'signatur'", template="t.txt", line=9, contact="a@x.org"),
                TemplateError("'zzz' is undefined", template="t.txt", line=3, contact="a@x.org")]
    text = [str(g) for g in group_problems(problems, [{"custom": {"residency_program": "IM"}}])]
    assert "did you mean `residency_program`?" in text[0]
    assert "`signatur` is undefined" in text[1] and "did you mean `signature`?" in text[1]
    assert "did you mean" not in text[2] and "optional_fields" in text[2]


def test_other_problems_group_by_place_and_reason():
    blank = "hospital is blank for this contact: fill it in, or give the template a fallback"
    problems = [TemplateError(blank, template="t.txt", line=2, contact=f"c{n}@x.org") for n in range(5)]
    [group] = group_problems(problems)
    assert str(group) == "t.txt:2  hospital is blank for 5 contacts (e.g. c0@x.org, c1@x.org, c2@x.org, ...): fill it in, or give the template a fallback"
