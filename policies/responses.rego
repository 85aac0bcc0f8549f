# METADATA
# title: Responses API options
# description: |
#   May this Responses API call use these options? Model access is gateway.authz's
#   (action "responses.create"); this package decides what the Responses API adds.
#   input: {"subject": {"id", "groups", "attributes"}, "action", "model",
#           "store": true | false | null (not said), "background": bool,
#           "tool_types": ["function", ...], "previous_response": bool}
#   actions: "responses.create", and on the caller's own stored responses (ownership is
#   checked by the gateway before asking): "responses.retrieve", "responses.delete",
#   "responses.input_items", "responses.cancel".
#   decision: {"allow", "reasons", "store"}; "store" is what the gateway sends upstream.
package gateway.responses

import rego.v1

import data.gateway.authz

config := object.get(data.gateway.config, "responses", {})

# Who may have responses stored upstream (OpenAI stores them unless told not to; a
# stored response is what GET /v1/responses/{id} and previous_response_id read).
store_groups := object.get(config, "store_groups", ["*"])

# Who may run responses in the background (answered later, outside this request's
# outcome record and restoration): nobody unless configured.
background_groups := object.get(config, "background_groups", [])

# Tool types the model may be offered. Hosted tools act outside the gateway (web
# search sends queries out, file search reads vector stores it does not govern, MCP
# calls other servers): only the caller's own functions unless configured.
tool_types := object.get(config, "tool_types", ["function", "custom"])

known_actions := {
	"responses.create", "responses.retrieve", "responses.delete",
	"responses.input_items", "responses.cancel",
}

default allow := false

allow if {
	input.action in known_actions
	count(reasons) == 0
}

may_store if authz.group_allowed(store_groups)

may_background if authz.group_allowed(background_groups)

reasons contains msg if {
	not input.action in known_actions
	msg := sprintf("unknown action %q", [input.action])
}

reasons contains msg if {
	input.action == "responses.create"
	input.store == true
	not may_store
	msg := sprintf("subject %q may not have responses stored upstream; send store: false", [input.subject.id])
}

reasons contains msg if {
	input.action == "responses.create"
	input.background == true
	not may_background
	msg := sprintf("subject %q may not run background responses; send the request without background", [input.subject.id])
}

reasons contains msg if {
	input.action == "responses.create"
	some kind in input.tool_types
	not kind in tool_types
	msg := sprintf("tool type %q is not allowed (allowed: %s)", [kind, concat(", ", sort(tool_types))])
}

# Stored upstream: the caller's choice (OpenAI's default: yes) where allowed; never
# where not allowed, also when the caller did not say.
default store := false

store if {
	may_store
	input.store != false
}

decision := {"allow": allow, "reasons": reasons, "store": store}
