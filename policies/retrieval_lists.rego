# METADATA
# title: Comparisons on multi-valued (list) document fields, for retrieval policies.
# description: |
#   A list field such as allowed_groups holds many values. `lists.has(F, v)` means "one of
#   F's values is v" and `lists.has_any(F, S)` "one of F's values is in S": what a term /
#   terms query means on an array field in Elasticsearch. `not lists.has(F, v)` means "no
#   value of F is v" (a deny-list), as must_not does.
#
#   While OPA compiles `allow` into a filter the helpers are inlined as `F == v` / `F in S`
#   (the only forms OPA's data-filter compiler accepts); the per-hit re-check
#   (`allow_document`) replaces them with `member` / `member_any`, which test membership
#   in the stored list: one pass per comparison, linear in the list's length.
package gateway.retrieval.lists

import rego.v1

# has(values, value): one of the field's values is `value`.
has(values, value) if values == value

# has_any(values, candidates): one of the field's values is in `candidates`.
has_any(values, candidates) if values in candidates

# The re-check's versions, over the stored list (a single value counts as a list of one).
member(values, value) if {
	is_array(values)
	value in values
}

member(values, value) if {
	not is_array(values)
	values == value
}

member_any(values, candidates) if {
	is_array(values)
	wanted := {c | some c in candidates}
	some value in values
	value in wanted
}

member_any(values, candidates) if {
	not is_array(values)
	values in candidates
}
