# METADATA
# title: Fine-tuning and file governance
# description: |
#   May this upload or fine-tuning job proceed, given what the gateway's scan found?
#   Training on governed text makes it retrievable by anyone who can query the model, so
#   uploads overlapping a corpus that is not explicitly trainable are refused, whatever
#   their purpose, and training data carrying structured personal identifiers is refused.
#   Retrieval through the gateway is the sanctioned way to use governed information.
#   Refusal reasons name only documents the uploader may retrieve (match.visible, from
#   the retrieval policy); the others are counted.
#   input: {"subject": {"id", "groups", "attributes"},
#           "action": "files.create" | "files.read" | "fine_tuning.jobs.create" |
#                     "fine_tuning.jobs.read" | "files.use",
#           "purpose": "fine-tune" | "batch" | ...,                    (files.create)
#           "scan": {"scanned", "text", "format", "media_type", "examples", "fingerprint_scheme",
#                    "matches": [{"line", "lines", "doc_id", "corpus", "classification",
#                                 "score", "shared", "shared_chars", "visible"}],
#                    "matches_left_out": n,  (matches under match_floor, not sent; also
#                                             beside recheck and job_request matches)
#                    "pii": [{"type", "score", "count", "lines", "ner", "reserved", "role"}]},
#                                                                          (files.create)
#           "model": "...", "file": {"purpose", "status", "scan_passed"},
#           "recheck": {"matches": [...]},  (fine_tuning.jobs.create: the file's matches
#                                            against the corpus as it is now)
#           "job_request": {"matches": [...]},  (fine_tuning.jobs.create: the matches of
#                          the request's own text: suffix, metadata, integrations, grader)
#           "endpoint": "chat.completions" | "responses.create" | ...}  (files.use: a
#                          stored file named as a model request's input; "model", "file"
#                          and "recheck" as for a job; gateway.file_inputs decided its
#                          purpose already)
#   data: data.gateway.config.finetune (see policies/data.json)
package gateway.finetune

import rego.v1

config := data.gateway.config.finetune

known_actions := {"files.create", "files.read", "fine_tuning.jobs.create", "fine_tuning.jobs.read", "files.use"}

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

# -- uploads ---------------------------------------------------------------------------

reasons contains msg if {
	input.action == "files.create"
	not input.purpose in config.purposes
	msg := sprintf("file purpose %q is not allowed", [input.purpose])
}

reasons contains msg if {
	input.action == "files.create"
	some purpose, why in config.refused_purposes
	input.purpose == purpose
	msg := why
}

reasons contains msg if {
	input.action == "files.create"
	not input.scan.scanned
	msg := "uploaded files must be scanned"
}

reasons contains msg if {
	input.action == "files.create"
	input.scan.scanned
	input.scan.text == false
	not input.purpose in config.binary_purposes
	msg := sprintf("files with purpose %q must be text the gateway can read (in any text encoding, or a PDF with a text layer)", [input.purpose])
}

# A binary file must also be of a type the policy lists, when it lists some (images for
# vision): an archive or a compressed stream could hold anything.
reasons contains msg if {
	input.action == "files.create"
	input.scan.scanned
	input.scan.text == false
	input.purpose in config.binary_purposes
	types := object.get(config, "binary_media_types", [])
	count(types) > 0
	not object.get(input.scan, "media_type", null) in types
	msg := sprintf("binary files with purpose %q must be one of %v", [input.purpose, types])
}

# The corpus matches that count: the scan's for an upload, the re-check's for a job or
# for a stored file used as model input (the file against the corpus as it is now: text
# ingested after the upload scan refuses it as it would have refused the upload).
matches := input.scan.matches if input.action == "files.create"

matches := input.recheck.matches if input.action in {"fine_tuning.jobs.create", "files.use"}

# A match counts when enough of the part (or the chunk) is shared, or when a long enough
# run of characters is shared whatever the sizes (an excerpt inside a long example).
significant(m) if {
	m.score >= config.overlap_threshold
	m.shared >= config.min_shared
}

significant(m) if m.shared_chars >= config.min_shared_chars

# Both signals together: a steadier measure of how much text is shared than either alone
# (a 40-word excerpt shares ~40 fingerprints, a common phrase a few), for an excerpt whose
# character shingles alone fall under min_shared_chars. Absent from the config: unused.
significant(m) if m.shared >= config.min_shared_total

# The weakest match any rule above can count: the gateway leaves out of its input every
# match under all of these (scan.matches_left_out says how many), since a large benign
# file has tens of thousands of weak matches, too many to send in a decision's time. A
# rule that reads weaker matches must lower this; without match_floor, all are sent.
match_floor := {measure: least |
	some measure, least in {
		"score": config.overlap_threshold,
		"shared_chars": config.min_shared_chars,
		"shared": object.get(config, "min_shared_total", null),
	}
	is_number(least)
}

offending contains m if {
	some m in matches
	significant(m)
	not trainable(m.corpus, m.classification)
}

trainable(corpus, classification) if {
	not classification in never_trainable
	classification in config.trainable_corpora[corpus]
}

# One violation per governed document, with the lines that overlap it.
violations contains v if {
	some doc_id in {m.doc_id | some m in offending}
	docs := [m | some m in offending; m.doc_id == doc_id]
	v := {
		"kind": "overlap",
		"doc_id": doc_id,
		"corpus": docs[0].corpus,
		"classification": docs[0].classification,
		"visible": object.get(docs[0], "visible", false) == true,
		"lines": sort({line | some m in docs; some line in object.get(m, "lines", [m.line])}),
		"max_score": max({m.score | some m in docs}),
	}
}

reasons contains msg if {
	some v in violations
	v.kind == "overlap"
	v.visible
	msg := sprintf(
		"lines %s overlap document %q of corpus %q (classification %q), which may not be used for training",
		[shown(v.lines), v.doc_id, v.corpus, v.classification],
	)
}

hidden := [v | some v in violations; v.kind == "overlap"; not v.visible]

reasons contains msg if {
	count(hidden) > 0
	lines := sort({line | some v in hidden; some line in v.lines})
	msg := sprintf(
		"lines %s overlap %d governed document(s) that may not be used for training",
		[shown(lines), count(hidden)],
	)
}

# -- personal data ---------------------------------------------------------------------

violations contains v if {
	input.action == "files.create"
	input.purpose in config.pii_purposes
	some finding in input.scan.pii
	blocked(finding)
	v := {"kind": "pii", "type": finding.type, "count": finding.count, "lines": finding.lines}
}

# Structured identifiers above their type's score, but reserved values (documentation,
# example and private ranges, published test cards: the finding's "reserved") of a type
# pii_allow_reserved names.
blocked(finding) if {
	not finding.ner
	finding.score >= config.pii_min_scores[finding.type]
	not spared(finding)
}

spared(finding) if {
	object.get(finding, "reserved", false) == true
	finding.type in object.get(config, "pii_allow_reserved", [])
}

# Role mailboxes (RFC 2142's postmaster, abuse, security, support, sales... and no-reply
# senders), toll-free numbers and public DNS resolvers (the finding's "role") of a type
# pii_allow_role names: a company's or service's address, line or host, not a person's.
spared(finding) if {
	object.get(finding, "role", false) == true
	finding.type in object.get(config, "pii_allow_role", [])
}

# NER-only findings (names, places) refuse only at or above pii_ner_min_score, when set.
blocked(finding) if {
	finding.ner
	finding.score >= config.pii_ner_min_score
}

reasons contains msg if {
	some kind in {v.type | some v in violations; v.kind == "pii"}
	found := [v | some v in violations; v.kind == "pii"; v.type == kind]
	lines := sort({line | some v in found; some line in v.lines})
	msg := sprintf(
		"lines %s contain personal data (%s, %d found)",
		[shown(lines), kind, sum([v.count | some v in found])],
	)
}

# What the upload scan looks for, asked before it runs: the PII types that can refuse
# an upload or that the policy wants reported (pii_report_types), and whether any of
# them needs the NER model. Without NER types the gateway scans with pattern recognizers
# only, which is many times faster. input: {"action": "files.create", "purpose"}.
ner_types := {"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"}

pii_wanted contains kind if some kind, _ in config.pii_min_scores

pii_wanted contains kind if some kind in object.get(config, "pii_report_types", [])

pii_wanted contains kind if {
	is_number(object.get(config, "pii_ner_min_score", null))
	some kind in ner_types
}

pii_scan := {
	"scan": input.purpose in config.pii_purposes,
	"types": sort(pii_wanted),
	"ner": count(pii_wanted & ner_types) > 0,
}

# A list of lines for messages: the first 20, and how many more.
shown(lines) := sprintf("%v", [lines]) if count(lines) <= 20

shown(lines) := sprintf("%v and %d more", [array.slice(lines, 0, 20), count(lines) - 20]) if {
	count(lines) > 20
}

# -- jobs ------------------------------------------------------------------------------

reasons contains msg if {
	input.action == "fine_tuning.jobs.create"
	input.file.purpose != "fine-tune"
	msg := sprintf("a file with purpose %q cannot be used for training", [input.file.purpose])
}

reasons contains msg if {
	input.action == "fine_tuning.jobs.create"
	input.file.purpose == "fine-tune"
	not input.file.scan_passed
	msg := "the training file did not pass the fine-tuning scan"
}

reasons contains msg if {
	some v in violations
	v.kind == "model"
	msg := sprintf("model %q may not be fine-tuned through this gateway", [v.model])
}

# A violation of its own, so the refusal can name the request's "model" parameter.
violations contains {"kind": "model", "model": input.model} if {
	input.action == "fine_tuning.jobs.create"
	not input.model in config.models
}

# The job request's own text goes to the upstream too (suffix, metadata, integrations,
# a reinforcement grader's prompts): governed text there is refused as in a file.
request_offending contains m if {
	input.action == "fine_tuning.jobs.create"
	some m in object.get(input, ["job_request", "matches"], [])
	significant(m)
	not trainable(m.corpus, m.classification)
}

violations contains v if {
	some doc_id in {m.doc_id | some m in request_offending}
	docs := [m | some m in request_offending; m.doc_id == doc_id]
	v := {
		"kind": "request_overlap",
		"doc_id": doc_id,
		"corpus": docs[0].corpus,
		"classification": docs[0].classification,
		"visible": object.get(docs[0], "visible", false) == true,
		"max_score": max({m.score | some m in docs}),
	}
}

reasons contains msg if {
	some v in violations
	v.kind == "request_overlap"
	v.visible
	msg := sprintf(
		"the job request's text overlaps document %q of corpus %q (classification %q), which may not be used for training",
		[v.doc_id, v.corpus, v.classification],
	)
}

reasons contains msg if {
	hidden_in_request := [v | some v in violations; v.kind == "request_overlap"; not v.visible]
	count(hidden_in_request) > 0
	msg := sprintf(
		"the job request's text overlaps %d governed document(s) that may not be used for training",
		[count(hidden_in_request)],
	)
}

decision := {"allow": allow, "reasons": reasons, "violations": violations}
