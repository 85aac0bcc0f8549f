package gateway.authz_test

import rego.v1

import data.gateway.authz

alice := {"id": "alice", "groups": ["engineering"], "attributes": {}}

bob := {"id": "bob", "groups": ["sales"], "attributes": {}}

carol := {"id": "carol", "groups": ["security"], "attributes": {}}

test_everyone_may_use_open_model if {
	authz.allow with input as {"subject": bob, "action": "chat.completions", "model": "gpt-4o-mini"}
}

test_group_restricted_model_allows_member if {
	authz.allow with input as {"subject": alice, "action": "chat.completions", "model": "gpt-4o"}
}

test_group_restricted_model_denies_outsider_with_reason if {
	not authz.allow with input as {"subject": bob, "action": "chat.completions", "model": "gpt-4o"}
	authz.reasons == {`subject "bob" may not use model "gpt-4o"`} with input as {"subject": bob, "action": "chat.completions", "model": "gpt-4o"}
}

test_unknown_model_denied if {
	d := authz.decision with input as {"subject": alice, "action": "chat.completions", "model": "nope"}
	not d.allow
	d.model_offered == false
	d.reasons == {`model "nope" is not offered by this gateway`}
}

test_unknown_action_denied if {
	not authz.allow with input as {"subject": alice, "action": "files.delete_everything"}
}

test_missing_subject_groups_denied_for_restricted_model if {
	not authz.allow with input as {"subject": {"id": "x"}, "action": "chat.completions", "model": "gpt-4o"}
}

test_models_lists_only_allowed if {
	authz.models == {"gpt-4o-mini", "text-embedding-3-small"} with input as {"subject": bob, "action": "models.list"}
	authz.models == {"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"} with input as {"subject": alice, "action": "models.list"}
}

test_only_auditors_read_audit if {
	authz.allow with input as {"subject": carol, "action": "audit.read"}
	not authz.allow with input as {"subject": alice, "action": "audit.read"}
}

test_decision_carries_retrieval_and_context_window if {
	d := authz.decision with input as {"subject": alice, "action": "chat.completions", "model": "gpt-4o"}
	d.retrieval == {"enabled": true, "corpora": null}
	d.context_window == 128000
}

test_model_can_opt_out_of_retrieval if {
	d := authz.decision with input as {"subject": alice, "action": "chat.completions", "model": "raw-model"}
		with data.gateway.config.models as {"raw-model": {"groups": ["*"], "retrieval": false}}
	d.retrieval.enabled == false
	d.context_window == 8192
}

limits_data := {
	"default": {"requests_per_minute": 60, "tokens_per_minute": 1000},
	"groups": {"sales": {"requests_per_minute": 120}, "engineering": {"requests_per_minute": 90}},
	"subjects": {"carol": {"requests_per_minute": 5, "concurrent_requests": 1}},
}

test_limits_default_applies if {
	l := authz.limits with input as {"subject": {"id": "dana", "groups": [], "attributes": {}}}
		with data.gateway.config.limits as limits_data
	l == {"requests_per_minute": 60, "tokens_per_minute": 1000}
}

test_limits_most_generous_group_wins_over_default if {
	subject := {"id": "erin", "groups": ["sales", "engineering"], "attributes": {}}
	l := authz.limits with input as {"subject": subject} with data.gateway.config.limits as limits_data
	l.requests_per_minute == 120
	l.tokens_per_minute == 1000
}

test_limits_subject_entry_wins if {
	l := authz.limits with input as {"subject": carol} with data.gateway.config.limits as limits_data
	l == {"requests_per_minute": 5, "tokens_per_minute": 1000, "concurrent_requests": 1}
}

test_no_limits_configured_means_none if {
	l := authz.limits with input as {"subject": bob} with data.gateway.config.limits as {}
	l == {}
}

test_responses_create_checks_the_model_like_chat if {
	authz.allow with input as {"subject": alice, "action": "responses.create", "model": "gpt-4o"}
	d := authz.decision with input as {"subject": bob, "action": "responses.create", "model": "gpt-4o"}
	not d.allow
	d.reasons == {`subject "bob" may not use model "gpt-4o"`}
}

test_embeddings_authorized_like_chat if {
	authz.allow with input as {"subject": bob, "action": "embeddings", "model": "text-embedding-3-small"}
	not authz.allow with input as {"subject": bob, "action": "embeddings", "model": "gpt-4o"}
	authz.reasons == {`subject "bob" may not use model "gpt-4o"`} with input as {"subject": bob, "action": "embeddings", "model": "gpt-4o"}
}

test_embeddings_unknown_model_not_offered if {
	d := authz.decision with input as {"subject": alice, "action": "embeddings", "model": "nope"}
	not d.allow
	d.model_offered == false
}

test_embeddings_need_a_model if {
	not authz.allow with input as {"subject": alice, "action": "embeddings"}
}
