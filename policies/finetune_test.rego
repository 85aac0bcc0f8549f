package gateway.finetune_test

import rego.v1

import data.gateway.finetune

alice := {"id": "alice", "groups": ["engineering"], "attributes": {"tenant": "acme"}}

match(line, doc_id, classification, score) := {
	"line": line,
	"lines": [line],
	"doc_id": doc_id,
	"corpus": "acme-handbook",
	"classification": classification,
	"score": score,
	"shared": 5,
	"shared_chars": 2,
	"visible": true,
}

upload(matches, pii) := {
	"subject": alice,
	"action": "files.create",
	"purpose": "fine-tune",
	"scan": {"scanned": true, "text": true, "examples": 3, "matches": matches, "pii": pii},
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

pii(kind, score) := {"type": kind, "score": score, "count": 2, "lines": [4], "ner": kind in {"PERSON", "LOCATION"}}

test_blocked_pii_denied if {
	d := finetune.decision with input as upload([], [pii("EMAIL_ADDRESS", 1)])
	not d.allow
	some v in d.violations
	v.kind == "pii"
	v.lines == [4]
}

test_harmless_entity_types_allowed if {
	d := finetune.decision with input as upload([], [pii("DATE_TIME", 0.85)])
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
		"model": "gpt-4o-mini", "file": {"purpose": "fine-tune", "scan_passed": false},
	}
	not d.allow
}

test_job_on_file_of_another_purpose_denied if {
	d := finetune.decision with input as {
		"subject": alice, "action": "fine_tuning.jobs.create",
		"model": "gpt-4o-mini", "file": {"purpose": "assistants", "scan_passed": false},
	}
	not d.allow
	"a file with purpose \"assistants\" cannot be used for training" in d.reasons
}

test_job_refused_when_recheck_finds_new_governed_overlap if {
	d := finetune.decision with input as {
		"subject": alice, "action": "fine_tuning.jobs.create", "model": "gpt-4o-mini",
		"file": {"purpose": "fine-tune", "scan_passed": true},
		"recheck": {"matches": [match(3, "acme-new-secret", "restricted", 0.8)]},
	}
	not d.allow
	some v in d.violations
	v.doc_id == "acme-new-secret"
}

job_with_request(matches) := {
	"subject": alice, "action": "fine_tuning.jobs.create", "model": "gpt-4o-mini",
	"file": {"purpose": "fine-tune", "scan_passed": true},
	"recheck": {"matches": []},
	"job_request": {"matches": matches},
}

test_job_refused_when_its_request_text_is_governed if {
	d := finetune.decision with input as job_with_request([match(1, "acme-key-accounts", "restricted", 0.9)])
	not d.allow
	"the job request's text overlaps document \"acme-key-accounts\" of corpus \"acme-handbook\" (classification \"restricted\"), which may not be used for training" in d.reasons
}

test_job_request_overlap_with_a_hidden_document_is_counted if {
	hidden := object.union(match(1, "acme-key-accounts", "restricted", 0.9), {"visible": false})
	d := finetune.decision with input as job_with_request([hidden])
	not d.allow
	"the job request's text overlaps 1 governed document(s) that may not be used for training" in d.reasons
}

test_job_request_text_from_a_trainable_corpus_or_too_small_passes if {
	small := object.union(match(1, "acme-key-accounts", "restricted", 0.05), {"shared_chars": 2})
	d := finetune.decision with input as job_with_request([small, match(1, "handbook", "public", 0.9)])
	d.allow
}

test_ner_findings_are_reported_not_refused_by_default if {
	d := finetune.decision with input as upload([], [pii("PERSON", 0.85), pii("LOCATION", 0.85)])
	d.allow
}

test_ner_findings_refuse_when_policy_sets_a_score if {
	d := finetune.decision with input as upload([], [pii("PERSON", 0.85)])
		with data.gateway.config.finetune.pii_ner_min_score as 0.8
	not d.allow
}

# Checksum identifiers (cards, IBANs, NHS and DEA numbers) score 0.5 when written in no
# usual form and with no word naming them nearby (gateway/pii/identifier_forms.py): an
# EAN or an ISBN-10 passing the check by chance is reported, not refused.
test_checksum_identifiers_in_no_usual_form_are_not_refused if {
	some kind in ["CREDIT_CARD", "IBAN_CODE", "MEDICAL_LICENSE", "UK_NHS"]
	d := finetune.decision with input as upload([], [pii(kind, 0.5)])
	d.allow
}

test_checksum_identifiers_in_usual_form_are_refused if {
	every kind in ["CREDIT_CARD", "IBAN_CODE", "MEDICAL_LICENSE", "UK_NHS"] {
		d := finetune.decision with input as upload([], [pii(kind, 1)])
		not d.allow
	}
}

test_ip_address_without_context_is_not_refused if {
	d := finetune.decision with input as upload([], [pii("IP_ADDRESS", 0.6)])
	d.allow
}

test_ip_address_with_context_is_refused if {
	d := finetune.decision with input as upload([], [pii("IP_ADDRESS", 0.95)])
	not d.allow
}

reserved(kind) := object.union(pii(kind, 1), {"reserved": true})

# Values in documentation, example or private ranges (example.com, 10.0.0.0/8, 555-0100
# to 555-0199): refused only for the types pii_allow_reserved does not name.
test_reserved_values_of_allowed_types_are_not_refused if {
	every kind in ["CREDIT_CARD", "EMAIL_ADDRESS", "IP_ADDRESS", "PHONE_NUMBER"] {
		d := finetune.decision with input as upload([], [reserved(kind)])
		d.allow
	}
}

test_reserved_values_refuse_when_the_type_is_not_allowed if {
	d := finetune.decision with input as upload([], [reserved("EMAIL_ADDRESS")])
		with data.gateway.config.finetune.pii_allow_reserved as ["IP_ADDRESS"]
	not d.allow
}

test_reserved_values_of_other_types_still_refuse if {
	d := finetune.decision with input as upload([], [reserved("IBAN_CODE")])
	not d.allow
}

role(kind) := object.union(pii(kind, 1), {"role": true})

# Role mailboxes (support@, security@, no-reply@...), toll-free numbers and public DNS
# resolvers: refused only for the types pii_allow_role does not name.
test_role_mailboxes_and_toll_free_numbers_are_not_refused if {
	every kind in ["EMAIL_ADDRESS", "IP_ADDRESS", "PHONE_NUMBER"] {
		d := finetune.decision with input as upload([], [role(kind)])
		d.allow
	}
}

test_role_mailboxes_refuse_when_the_policy_does_not_allow_them if {
	d := finetune.decision with input as upload([], [role("EMAIL_ADDRESS")])
		with data.gateway.config.finetune.pii_allow_role as []
	not d.allow
}

test_role_does_not_spare_another_type if {
	d := finetune.decision with input as upload([], [role("CREDIT_CARD")])
	not d.allow
}

test_a_personal_address_beside_a_role_mailbox_still_refuses if {
	d := finetune.decision with input as upload([], [role("EMAIL_ADDRESS"), pii("EMAIL_ADDRESS", 1)])
	not d.allow
}

test_other_values_of_an_allowed_type_still_refuse if {
	d := finetune.decision with input as upload([], [reserved("EMAIL_ADDRESS"), pii("EMAIL_ADDRESS", 1)])
	not d.allow
}

test_pii_is_not_a_reason_for_other_purposes if {
	i := object.union(upload([], [pii("EMAIL_ADDRESS", 1)]), {"purpose": "assistants"})
	d := finetune.decision with input as i
	d.allow
}

test_excerpt_refused_by_absolute_shared_characters if {
	m := object.union(match(1, "acme-key-accounts", "restricted", 0.05), {"shared_chars": 40})
	d := finetune.decision with input as upload([m], [])
	not d.allow
}

test_excerpt_refused_by_both_signals_together if {
	m := object.union(match(1, "acme-key-accounts", "restricted", 0.15), {"shared": 34, "shared_chars": 18})
	d := finetune.decision with input as upload([m], [])
	not d.allow
}

test_a_common_phrase_under_every_measure_passes if {
	m := object.union(match(1, "acme-key-accounts", "restricted", 0.15), {"shared": 29, "shared_chars": 23})
	d := finetune.decision with input as upload([m], [])
	d.allow
}

test_without_min_shared_total_only_the_other_measures_count if {
	m := object.union(match(1, "acme-key-accounts", "restricted", 0.15), {"shared": 80, "shared_chars": 18})
	d := finetune.decision with input as upload([m], [])
		with data.gateway.config.finetune as object.remove(data.gateway.config.finetune, ["min_shared_total"])
	d.allow
}

test_match_floor_is_the_least_each_rule_counts if {
	finetune.match_floor == {"score": 0.2, "shared_chars": 24, "shared": 30}
	under := object.union(match(1, "acme-key-accounts", "restricted", 0.19), {"shared": 29, "shared_chars": 23})
	finetune.decision.allow with input as upload([under], [])
	every at in [{"score": 0.2}, {"shared": 30}, {"shared_chars": 24}] {
		not finetune.decision.allow with input as upload([object.union(under, at)], [])
	}
}

test_match_floor_leaves_out_a_measure_the_config_does_not_set if {
	floor := finetune.match_floor with data.gateway.config.finetune as object.remove(data.gateway.config.finetune, ["min_shared_total"])
	floor == {"score": 0.2, "shared_chars": 24}
}

test_long_line_lists_say_how_many_more if {
	many := [{"type": "EMAIL_ADDRESS", "score": 1, "count": 60, "lines": numbers.range(1, 60), "ner": false}]
	d := finetune.decision with input as upload([], many)
	"lines [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20] and 40 more contain personal data (EMAIL_ADDRESS, 60 found)" in d.reasons
	few := [{"type": "EMAIL_ADDRESS", "score": 1, "count": 2, "lines": [3, 9], "ner": false}]
	"lines [3, 9] contain personal data (EMAIL_ADDRESS, 2 found)" in finetune.decision.reasons with input as upload([], few)
}

test_documents_the_uploader_cannot_retrieve_are_counted_not_named if {
	hidden := object.union(match(2, "acme-secret-merger", "restricted", 0.9), {"visible": false})
	d := finetune.decision with input as upload([hidden, match(5, "acme-key-accounts", "restricted", 0.9)], [])
	not d.allow
	some reason in d.reasons
	contains(reason, "acme-key-accounts")
	every r in d.reasons {
		not contains(r, "acme-secret-merger")
	}
	"lines [2] overlap 1 governed document(s) that may not be used for training" in d.reasons
}

test_batch_uploads_refused_with_a_reason if {
	i := object.union(upload([], []), {"purpose": "batch"})
	d := finetune.decision with input as i
	not d.allow
	some reason in d.reasons
	contains(reason, "POST /v1/chat/completions")
}

test_other_purposes_are_matched_against_the_corpora if {
	i := object.union(upload([match(1, "acme-key-accounts", "restricted", 0.9)], []), {"purpose": "user_data"})
	d := finetune.decision with input as i
	not d.allow
}

test_binary_files_only_for_binary_purposes if {
	binary := {"scanned": true, "text": false, "media_type": "image/png", "examples": 0, "matches": [], "pii": []}
	d := finetune.decision with input as object.union(upload([], []), {"purpose": "assistants", "scan": binary})
	not d.allow
	v := finetune.decision with input as object.union(upload([], []), {"purpose": "vision", "scan": binary})
	v.allow
}

test_binary_files_of_unlisted_types_refused_for_vision if {
	archive := {"scanned": true, "text": false, "media_type": "application/zip", "examples": 0, "matches": [], "pii": []}
	d := finetune.decision with input as object.union(upload([], []), {"purpose": "vision", "scan": archive})
	not d.allow
	unknown := object.remove(archive, ["media_type"])
	u := finetune.decision with input as object.union(upload([], []), {"purpose": "vision", "scan": unknown})
	not u.allow
}

test_job_on_unlisted_model_denied if {
	d := finetune.decision with input as {
		"subject": alice, "action": "fine_tuning.jobs.create",
		"model": "gpt-4o", "file": {"purpose": "fine-tune", "scan_passed": true},
	}
	not d.allow
	d.violations == {{"kind": "model", "model": "gpt-4o"}}
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

test_pii_scan_needs_no_ner_by_default if {
	plan := finetune.pii_scan with input as {"action": "files.create", "purpose": "fine-tune"}
	plan.scan
	not plan.ner
	"EMAIL_ADDRESS" in plan.types
	not "PERSON" in plan.types
}

test_pii_scan_needs_ner_when_ner_findings_can_refuse if {
	plan := finetune.pii_scan with input as {"action": "files.create", "purpose": "fine-tune"}
		with data.gateway.config.finetune.pii_ner_min_score as 0.8
	plan.ner
	"PERSON" in plan.types
}

test_pii_scan_needs_ner_when_ner_types_are_reported if {
	plan := finetune.pii_scan with input as {"action": "files.create", "purpose": "fine-tune"}
		with data.gateway.config.finetune.pii_report_types as ["LOCATION"]
	plan.ner
	"LOCATION" in plan.types
}

test_pii_scan_skipped_for_purposes_without_pii_rules if {
	plan := finetune.pii_scan with input as {"action": "files.create", "purpose": "assistants"}
	not plan.scan
}

# -- a stored file as model input (files.use) ------------------------------------------

use_with(matches) := {
	"subject": alice, "action": "files.use", "endpoint": "chat.completions",
	"model": "gpt-4o-mini", "file": {"purpose": "user_data", "status": "processed"},
	"recheck": {"matches": matches},
}

test_file_use_without_governed_overlap_allowed if {
	d := finetune.decision with input as use_with([])
	d.allow
	d.reasons == set()
}

test_file_use_refused_when_recheck_finds_new_governed_overlap if {
	d := finetune.decision with input as use_with([match(3, "acme-new-secret", "restricted", 0.8)])
	not d.allow
	"lines [3] overlap document \"acme-new-secret\" of corpus \"acme-handbook\" (classification \"restricted\"), which may not be used for training" in d.reasons
}

test_file_use_overlap_with_a_hidden_document_is_counted if {
	hidden := object.union(match(3, "acme-new-secret", "restricted", 0.8), {"visible": false})
	d := finetune.decision with input as use_with([hidden])
	not d.allow
	d.reasons == {"lines [3] overlap 1 governed document(s) that may not be used for training"}
}

test_file_use_of_trainable_text_allowed if {
	d := finetune.decision with input as use_with([match(1, "acme-handbook-intro", "public", 0.9)])
	d.allow
}

test_file_use_ignores_the_upload_scan_and_the_model_list if {
	d := finetune.decision with input as object.union(use_with([]), {
		"model": "not-a-trainable-model",
		"scan": {"matches": [match(1, "acme-new-secret", "restricted", 0.9)]},
	})
	d.allow
}
