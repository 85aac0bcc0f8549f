package gateway.retrieval_test

import rego.v1

import data.gateway.retrieval

alice := {"id": "alice", "groups": ["engineering"], "attributes": {"tenant": "acme", "clearance": "confidential"}}

bob := {"id": "bob", "groups": ["sales"], "attributes": {"tenant": "acme", "clearance": "internal"}}

carol := {"id": "carol", "groups": ["security"], "attributes": {"tenant": "acme", "clearance": "restricted"}}

outsider := {"id": "eve", "groups": ["engineering"], "attributes": {"tenant": "globex", "clearance": "restricted"}}

public_doc := {"tenant": "acme", "classification": "public", "allowed_groups": ["*"]}

runbook := {"tenant": "acme", "classification": "confidential", "allowed_groups": ["security", "engineering"]}

pricing := {"tenant": "acme", "classification": "internal", "allowed_groups": ["sales"]}

accounts := {"tenant": "acme", "classification": "restricted", "allowed_users": ["carol"], "allowed_groups": ["sales"]}

test_public_documents_of_own_tenant if {
	retrieval.allow_document with input as {"subject": bob, "document": public_doc}
	not retrieval.allow_document with input as {"subject": outsider, "document": public_doc}
}

test_group_members_up_to_clearance if {
	retrieval.allow_document with input as {"subject": alice, "document": runbook}
	not retrieval.allow_document with input as {"subject": bob, "document": runbook}
	retrieval.allow_document with input as {"subject": bob, "document": pricing}
}

test_clearance_caps_group_access if {
	low := object.union(alice, {"attributes": {"tenant": "acme", "clearance": "internal"}})
	not retrieval.allow_document with input as {"subject": low, "document": runbook}
}

test_restricted_only_for_named_users if {
	retrieval.allow_document with input as {"subject": carol, "document": accounts}
	not retrieval.allow_document with input as {"subject": bob, "document": accounts}
}

test_missing_fields_deny if {
	not retrieval.allow_document with input as {"subject": alice, "document": {"classification": "public"}}
	no_tenant := {"id": "x", "groups": ["engineering"], "attributes": {}}
	not retrieval.allow_document with input as {"subject": no_tenant, "document": public_doc}
}

test_star_group_shares_within_tenant_up_to_clearance if {
	doc := {"tenant": "acme", "classification": "internal", "allowed_groups": ["*"]}
	retrieval.allow_document with input as {"subject": bob, "document": doc}
	pub := object.union(bob, {"attributes": {"tenant": "acme", "clearance": "public"}})
	not retrieval.allow_document with input as {"subject": pub, "document": doc}
}

test_multi_valued_field_matches_any_value if {
	doc := {"tenant": "acme", "classification": "internal", "allowed_groups": ["hr", "sales", "legal"], "allowed_users": [], "labels": ["eu"]}
	retrieval.allow_document with input as {"subject": bob, "document": doc}
}

test_empty_multi_valued_fields_match_nothing if {
	doc := {"tenant": "acme", "classification": "public", "allowed_groups": [], "allowed_users": []}
	retrieval.allow_document with input as {"subject": bob, "document": doc}
	internal := object.union(doc, {"classification": "internal"})
	not retrieval.allow_document with input as {"subject": bob, "document": internal}
}

test_long_access_lists if {
	groups := [sprintf("group-%d", [i]) | some i in numbers.range(1, 2000)]
	users := [sprintf("user-%d", [i]) | some i in numbers.range(1, 2000)]
	doc := {"tenant": "acme", "classification": "internal", "allowed_groups": array.concat(groups, ["sales"]), "allowed_users": users}
	retrieval.allow_document with input as {"subject": bob, "document": doc}
	not retrieval.allow_document with input as {"subject": alice, "document": doc}
}

test_why_not_explains_denials if {
	reasons := retrieval.why_not with input as {"subject": bob, "document": runbook}
	reasons == {
		`classification "confidential" is above the subject's clearance`,
		"neither the subject nor one of its groups is named on the document",
	}
	retrieval.why_not == {"the document belongs to another tenant"} with input as {"subject": outsider, "document": runbook}
	count(retrieval.why_not) == 0 with input as {"subject": alice, "document": runbook}
}
