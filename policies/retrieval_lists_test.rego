package gateway.retrieval.lists_test

import rego.v1

import data.gateway.retrieval.lists

test_has_is_equality_for_the_compiler if {
	lists.has("sales", "sales")
	not lists.has("sales", "hr")
	lists.has_any("sales", ["hr", "sales"])
	not lists.has_any("sales", ["hr"])
}

test_member_is_membership_in_the_stored_list if {
	lists.member(["hr", "sales"], "sales")
	not lists.member(["hr"], "sales")
	not lists.member([], "sales")
	lists.member("sales", "sales")
}

test_member_any_is_one_value_in_the_candidates if {
	lists.member_any(["hr", "sales"], ["sales", "legal"])
	not lists.member_any(["hr"], ["sales", "legal"])
	not lists.member_any([], ["sales"])
	not lists.member_any(["hr"], [])
	lists.member_any("sales", ["sales"])
}

test_deny_list_means_no_value_equals if {
	denied := ["mallory", "trent"]
	lists.member(denied, "trent")
	not lists.member(denied, "bob")
	not lists.member_any(denied, ["bob", "carol"])
}
