# METADATA
# title: Fine-tuning governance
# description: |
#   May this upload or fine-tuning job proceed, given what the gateway's scan found?
#   Training on governed text makes it retrievable by anyone who can query the model, so
#   examples overlapping a corpus that is not explicitly trainable are refused, and so
#   are examples carrying personal data. Retrieval through the gateway is the sanctioned
#   way to use governed information.
#   input: {"subject": {"id", "groups", "attributes"},
#           "action": "files.create" | "files.read" | "fine_tuning.jobs.create" |
#                     "fine_tuning.jobs.read",
#           "purpose": "fine-tune" | ...,                       (files.create)
#           "scan": {"scanned", "examples", "fingerprint_scheme",
#                    "matches": [{"line", "doc_id", "corpus", "classification",
#                                 "score", "shared"}],
#                    "pii": [{"type", "count", "lines"}]},     (files.create)
#           "model": "...", "file": {"purpose", "scan_passed"}} (fine_tuning.jobs.create)
#   data: data.gateway.config.finetune (see policies/data.json)
package gateway.finetune

import rego.v1

config := data.gateway.config.finetune

known_actions := {"files.create", "files.read", "fine_tuning.jobs.create", "fine_tuning.jobs.read"}

# Never trainable, whatever the corpus settings say.
never_trainable := {"restricted", "confidential"}

default allow := false

allow if {
	input.action in known_actions
	count(reasons) == 0
}

reasons contains msg if {
	not input.action in known_actions
	msg := sprintf("unknown action %q", [input.action])
}

reasons contains msg if {
	not member_of_allowed_group
	msg := sprintf("subject %q may not use the files and fine-tuning endpoints", [input.subject.id])
}

member_of_allowed_group if "*" in config.groups

member_of_allowed_group if {
	some group in input.subject.groups
	group in config.groups
}

reasons contains msg if {
	input.action == "files.create"
	not input.purpose in config.purposes
	msg := sprintf("file purpose %q is not allowed", [input.purpose])
}

reasons contains msg if {
	input.action == "files.create"
	input.purpose == "fine-tune"
	not input.scan.scanned
	msg := "fine-tuning files must be scanned"
}

# A match counts when enough of the example (or the chunk) is shared.
offending contains match if {
	input.action == "files.create"
	some match in input.scan.matches
	match.score >= config.overlap_threshold
	match.shared >= config.min_shared
	not trainable(match.corpus, match.classification)
}

trainable(corpus, classification) if {
	not classification in never_trainable
	classification in config.trainable_corpora[corpus]
}

# One violation per governed document, with the example lines that overlap it.
violations contains v if {
	some doc_id in {m.doc_id | some m in offending}
	docs := [m | some m in offending; m.doc_id == doc_id]
	v := {
		"kind": "overlap",
		"doc_id": doc_id,
		"corpus": docs[0].corpus,
		"classification": docs[0].classification,
		"lines": sort({m.line | some m in docs}),
		"max_score": max({m.score | some m in docs}),
	}
}

violations contains v if {
	input.action == "files.create"
	some finding in input.scan.pii
	finding.type in config.pii_blocked_types
	v := {"kind": "pii", "type": finding.type, "count": finding.count, "lines": finding.lines}
}

reasons contains msg if {
	some v in violations
	v.kind == "overlap"
	msg := sprintf(
		"examples at lines %v overlap document %q of corpus %q (classification %q), which may not be used for training",
		[v.lines, v.doc_id, v.corpus, v.classification],
	)
}

reasons contains msg if {
	some v in violations
	v.kind == "pii"
	msg := sprintf("examples at lines %v contain personal data (%s, %d found)", [v.lines, v.type, v.count])
}

reasons contains msg if {
	input.action == "fine_tuning.jobs.create"
	not input.file.scan_passed
	msg := "the training file did not pass the fine-tuning scan (upload it with purpose fine-tune)"
}

reasons contains msg if {
	input.action == "fine_tuning.jobs.create"
	not input.model in config.models
	msg := sprintf("model %q may not be fine-tuned through this gateway", [input.model])
}

decision := {"allow": allow, "reasons": reasons, "violations": violations}
