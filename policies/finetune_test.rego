package gateway.finetune_test

import rego.v1

import data.gateway.finetune

alice := {"id": "alice", "groups": ["engineering"], "attributes": {"tenant": "acme"}}

match(line, doc_id, classification, score) := {
	"line": line,
	"doc_id": doc_id,
	"corpus": "acme-handbook",
	"classification": classification,
	"score": score,
	"shared": 5,
}

upload(matches, pii) := {
	"subject": alice,
	"action": "files.create",
	"purpose": "fine-tune",
	"scan": {"scanned": true, "examples": 3, "matches": matches, "pii": pii},
}

test_clean_upload_allowed if {
	d := finetune.decision with input as upload([], [])
	d.allow
	count(d.reasons) == 0
}

test_restricted_overlap_denied_with_lines_and_doc if {
	d := finetune.decision with input as upload(
		[match(2, "acme-key-accounts", "restricted", 0.9), match(3, "acme-key-accounts", "restricted", 0.5)],
		[],
	)
	not d.allow
	some v in d.violations
	v.doc_id == "acme-key-accounts"
	v.lines == [2, 3]
	v.max_score == 0.9
}

test_confidential_never_trainable_even_if_listed if {
	d := finetune.decision with input as upload([match(1, "acme-incident-runbook", "confidential", 1)], [])
		with data.gateway.config.finetune.trainable_corpora as {"acme-handbook": ["public", "confidential"]}
	not d.allow
}

test_public_overlap_of_trainable_corpus_allowed if {
	d := finetune.decision with input as upload([match(1, "acme-vacation-policy", "public", 1)], [])
	d.allow
}

test_internal_overlap_denied if {
	d := finetune.decision with input as upload([match(1, "acme-pricing-2026", "internal", 0.6)], [])
	not d.allow
}

test_unlisted_corpus_denied if {
	m := object.union(match(1, "x", "public", 0.9), {"corpus": "hr-files"})
	d := finetune.decision with input as upload([m], [])
	not d.allow
}

test_overlap_below_threshold_ignored if {
	d := finetune.decision with input as upload([match(1, "acme-key-accounts", "restricted", 0.05)], [])
	d.allow
}

test_too_few_shared_fingerprints_ignored if {
	m := object.union(match(1, "acme-key-accounts", "restricted", 1), {"shared": 1})
	d := finetune.decision with input as upload([m], [])
	d.allow
}

test_blocked_pii_denied if {
	d := finetune.decision with input as upload([], [{"type": "EMAIL_ADDRESS", "count": 2, "lines": [4]}])
	not d.allow
	some v in d.violations
	v.kind == "pii"
	v.lines == [4]
}

test_harmless_entity_types_allowed if {
	d := finetune.decision with input as upload([], [{"type": "DATE_TIME", "count": 1, "lines": [1]}])
	d.allow
}

test_unscanned_finetune_upload_denied if {
	d := finetune.decision with input as {"subject": alice, "action": "files.create", "purpose": "fine-tune", "scan": {"scanned": false}}
	not d.allow
}

test_unknown_purpose_denied if {
	d := finetune.decision with input as {"subject": alice, "action": "files.create", "purpose": "weights"}
	not d.allow
}

test_job_on_scanned_file_allowed if {
	d := finetune.decision with input as {
		"subject": alice, "action": "fine_tuning.jobs.create",
		"model": "gpt-4o-mini", "file": {"purpose": "fine-tune", "scan_passed": true},
	}
	d.allow
}

test_job_on_unscanned_file_denied if {
	d := finetune.decision with input as {
		"subject": alice, "action": "fine_tuning.jobs.create",
		"model": "gpt-4o-mini", "file": {"purpose": "batch", "scan_passed": false},
	}
	not d.allow
}

test_job_on_unlisted_model_denied if {
	d := finetune.decision with input as {
		"subject": alice, "action": "fine_tuning.jobs.create",
		"model": "gpt-4o", "file": {"purpose": "fine-tune", "scan_passed": true},
	}
	not d.allow
}

test_group_restriction_applies if {
	d := finetune.decision with input as {"subject": alice, "action": "files.read"}
		with data.gateway.config.finetune.groups as ["ml-team"]
	not d.allow
}

test_unknown_action_denied if {
	d := finetune.decision with input as {"subject": alice, "action": "files.burn"}
	not d.allow
}
