# METADATA
# title: Which documents may a subject retrieve?
# description: |
#   `allow` is compiled by OPA into an Elasticsearch filter with input.document unknown
#   (POST /v1/compile/gateway/retrieval/allow), so it must stay within OPA's data-filter
#   fragment: compare `input.document.<field>` with known values using ==, !=, <, <=, >,
#   >=, `in` a known collection, startswith, and `not`.
#
#   Multi-valued fields (allowed_groups, allowed_users, labels): `input.document.F == v`
#   means "one of F's values is v", as in Elasticsearch. Use them only positively (== or
#   in, never under `not` or with !=) and at most once per rule body; the gateway refuses
#   (and denies) filters that break this, because it cannot enforce them exactly.
#
#   input: {"subject": {"id", "groups", "attributes": {"tenant", "clearance"}},
#           "document": {"tenant", "classification", "allowed_groups", "allowed_users",
#                        "labels", "owner", "corpus", "doc_id", ...}}
# compile:
#   unknowns: [input.document]
package gateway.retrieval

import rego.v1

# Which classifications each clearance may read.
readable := {
	"public": ["public"],
	"internal": ["public", "internal"],
	"confidential": ["public", "internal", "confidential"],
	"restricted": ["public", "internal", "confidential", "restricted"],
}

default allow := false

# Public documents of the caller's tenant.
allow if {
	input.document.tenant == input.subject.attributes.tenant
	input.document.classification == "public"
}

# Users named on a document see it, whatever its classification.
allow if {
	input.document.tenant == input.subject.attributes.tenant
	input.document.allowed_users == input.subject.id
}

# Group members see their groups' documents up to their clearance; restricted documents
# are only ever shared with named users.
allow if {
	input.document.tenant == input.subject.attributes.tenant
	input.document.classification in readable[input.subject.attributes.clearance]
	input.document.classification != "restricted"
	some group in input.subject.groups
	input.document.allowed_groups == group
}

# Documents shared with everyone in the tenant ("*"), up to the caller's clearance.
allow if {
	input.document.tenant == input.subject.attributes.tenant
	input.document.classification in readable[input.subject.attributes.clearance]
	input.document.classification != "restricted"
	input.document.allowed_groups == "*"
}

# --- Full evaluation of one stored document (the per-hit re-check) ----------------------

multi_valued := ["allowed_groups", "allowed_users", "labels"]

# A stored document holds arrays in its multi-valued fields. It is allowed when `allow`
# holds for some choice of one value per multi-valued field: the meaning Elasticsearch
# gives a term query on an array field. An empty or missing field is left out.
default allow_document := false

allow_document if {
	some view in views
	allow with input.document as view
}

views contains view if {
	some groups in choices("allowed_groups")
	some users in choices("allowed_users")
	some labels in choices("labels")
	base := object.remove(input.document, multi_valued)
	view := object.union_n([base, groups, users, labels])
}

choices(field) := [{field: value} | some value in input.document[field]] if {
	count(input.document[field]) > 0
} else := [{}]

# --- Explanations for `gateway explain` --------------------------------------------------

why_not contains "the document belongs to another tenant" if {
	input.document.tenant != input.subject.attributes.tenant
}

why_not contains "the subject has no tenant attribute" if {
	not input.subject.attributes.tenant
}

why_not contains msg if {
	not input.document.classification in readable[input.subject.attributes.clearance]
	msg := sprintf("classification %q is above the subject's clearance", [input.document.classification])
}

why_not contains "restricted documents are shared with named users only" if {
	input.document.classification == "restricted"
	not input.subject.id in object.get(input.document, "allowed_users", [])
}

why_not contains "neither the subject nor one of its groups is named on the document" if {
	not input.subject.id in object.get(input.document, "allowed_users", [])
	every group in input.subject.groups {
		not group in object.get(input.document, "allowed_groups", [])
	}
	not "*" in object.get(input.document, "allowed_groups", [])
	input.document.classification != "public"
}
