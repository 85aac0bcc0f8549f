package gateway.responses_test

import rego.v1

import data.gateway.responses

alice := {"id": "alice", "groups": ["engineering"], "attributes": {}}

create(extra) := object.union(
	{
		"subject": alice, "action": "responses.create", "model": "gpt-4o-mini",
		"store": null, "background": false, "tool_types": [], "previous_response": false,
	},
	extra,
)

test_plain_create_allowed_and_stored_by_default if {
	d := responses.decision with input as create({})
	d.allow
	d.store == true
}

test_caller_may_opt_out_of_storing if {
	d := responses.decision with input as create({"store": false})
	d.allow
	d.store == false
}

test_store_refused_where_not_allowed if {
	d := responses.decision with input as create({"store": true})
		with data.gateway.config.responses.store_groups as ["security"]
	not d.allow
	d.reasons == {`subject "alice" may not have responses stored upstream; send store: false`}
}

test_not_stored_when_unsaid_and_not_allowed if {
	d := responses.decision with input as create({})
		with data.gateway.config.responses.store_groups as ["security"]
	d.allow
	d.store == false
}

test_background_refused_by_default if {
	d := responses.decision with input as create({"background": true})
	not d.allow
	d.reasons == {`subject "alice" may not run background responses; send the request without background`}
}

test_background_allowed_for_configured_group if {
	responses.allow with input as create({"background": true})
		with data.gateway.config.responses.background_groups as ["engineering"]
}

test_function_and_custom_tools_allowed if {
	responses.allow with input as create({"tool_types": ["function", "custom"]})
}

test_hosted_tools_refused_by_default if {
	d := responses.decision with input as create({"tool_types": ["function", "web_search"]})
	not d.allow
	d.reasons == {`tool type "web_search" is not allowed (allowed: custom, function)`}
}

test_configured_tool_types if {
	responses.allow with input as create({"tool_types": ["web_search"]})
		with data.gateway.config.responses.tool_types as ["web_search"]
}

test_reads_allowed if {
	responses.allow with input as {"subject": alice, "action": "responses.retrieve"}
	responses.allow with input as {"subject": alice, "action": "responses.delete"}
}

test_unknown_action_denied if {
	not responses.allow with input as {"subject": alice, "action": "responses.share"}
}
