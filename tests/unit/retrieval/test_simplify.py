from gateway.retrieval.simplify import simplify


def test_shared_conditions_are_hoisted_out_of_or() -> None:
    """(a and b) or (a and c) becomes a and (b or c)."""
    a, b, c = ({"term": {field: "v"}} for field in ("tenant", "owner", "corpus"))
    clause = {
        "bool": {
            "should": [{"bool": {"filter": [a, b]}}, {"bool": {"filter": [a, c]}}],
            "minimum_should_match": 1,
        }
    }
    assert simplify(clause) == {
        "bool": {"filter": [a], "should": [b, c], "minimum_should_match": 1}
    }


def test_branch_left_empty_makes_or_true() -> None:
    """(a) or (a and b) is just a."""
    a, b = {"term": {"f": "a"}}, {"term": {"f": "b"}}
    clause = {"bool": {"should": [a, {"bool": {"filter": [a, b]}}], "minimum_should_match": 1}}
    assert simplify(clause) == a


def test_negations_and_guards_are_spliced() -> None:
    """Nested negations move to the parent's must_not; implied exists guards go."""
    clause = {
        "bool": {
            "filter": [
                {"terms": {"classification": ["a", "b"]}},
                {
                    "bool": {
                        "filter": [{"exists": {"field": "classification"}}],
                        "must_not": [{"term": {"classification": "r"}}],
                    }
                },
                {"bool": {"must_not": [{"term": {"tenant": "x"}}]}},
            ]
        }
    }
    assert simplify(clause) == {
        "bool": {
            "filter": [{"terms": {"classification": ["a", "b"]}}],
            "must_not": [{"term": {"classification": "r"}}, {"term": {"tenant": "x"}}],
        }
    }


def test_exists_guard_without_positive_sibling_stays() -> None:
    """A guard is kept when nothing else requires the field."""
    clause = {
        "bool": {
            "filter": [{"exists": {"field": "owner"}}],
            "must_not": [{"prefix": {"owner": "z"}}],
        }
    }
    assert simplify(clause) == clause


def test_leaves_and_match_none_pass_through() -> None:
    """Clauses without bool structure are untouched."""
    assert simplify({"match_none": {}}) == {"match_none": {}}
    assert simplify({"term": {"f": "x"}}) == {"term": {"f": "x"}}


def test_branches_differing_in_one_value_merge_into_terms() -> None:
    """(x and g == a) or (x and g == b) or y becomes y or (x and g in [a, b])."""
    x = {"term": {"tenant": "acme"}}
    y = {"term": {"classification": "public"}}
    clause = {
        "bool": {
            "should": [
                {"bool": {"filter": [x, {"term": {"allowed_groups": "b"}}]}},
                y,
                {"bool": {"filter": [x, {"term": {"allowed_groups": "a"}}]}},
            ],
            "minimum_should_match": 1,
        }
    }
    assert simplify(clause) == {
        "bool": {
            "should": [
                y,
                {"bool": {"filter": [x, {"terms": {"allowed_groups": ["a", "b"]}}]}},
            ],
            "minimum_should_match": 1,
        }
    }
