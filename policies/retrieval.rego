# METADATA
# title: Which documents may a subject retrieve?
# description: |
#   `allow` is compiled by OPA into an Elasticsearch filter with input.document unknown
#   (POST /v1/compile/gateway/retrieval/allow), so it must stay within OPA's data-filter
#   fragment and the gateway's translator: see policies/README.md for what is accepted.
#
#   List fields (allowed_groups, allowed_users, labels, and list fields of the governance
#   schema) are compared only through `lists.has` / `lists.has_any` ("one of its values
#   is"), or negated (`not lists.has(...)`: "none of its values is"), as in Elasticsearch.
#
#   input: {"subject": {"id", "groups", "attributes": {"tenant", "clearance"}},
#           "document": {"tenant", "classification", "allowed_groups", "allowed_users",
#                        "labels", "owner", "corpus", "doc_id", "created_at", ...}}
# compile:
#   unknowns: [input.document]
package gateway.retrieval

import rego.v1

import data.gateway.retrieval.lists

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
	lists.has(input.document.allowed_users, input.subject.id)
}

# Group members see their groups' documents up to their clearance; restricted documents
# are only ever shared with named users.
allow if {
	input.document.tenant == input.subject.attributes.tenant
	input.document.classification in readable[input.subject.attributes.clearance]
	input.document.classification != "restricted"
	lists.has_any(input.document.allowed_groups, input.subject.groups)
}

# Documents shared with everyone in the tenant ("*"), up to the caller's clearance.
allow if {
	input.document.tenant == input.subject.attributes.tenant
	input.document.classification in readable[input.subject.attributes.clearance]
	input.document.classification != "restricted"
	lists.has(input.document.allowed_groups, "*")
}

# --- Full evaluation of one stored document (the per-hit re-check) ----------------------

# The stored document holds whole lists (an empty list when a list field is unset): each
# list comparison tests membership, one pass over the list, so the cost is linear in the
# length of the access lists (no enumeration of combinations).
default allow_document := false

allow_document if {
	allow with lists.has as lists.member with lists.has_any as lists.member_any
}

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
