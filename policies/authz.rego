# METADATA
# title: Endpoint and model access
# description: |
#   May this principal call this endpoint with this model?
#   input: {"subject": {"id", "groups", "attributes"}, "action", "model"}
#   actions: "chat.completions", "embeddings", "responses.create", "models.list", "audit.read"
package gateway.authz

import rego.v1

config := data.gateway.config

# Actions that name a model: the model must be offered and open to one of the subject's
# groups.
model_actions := {"chat.completions", "embeddings", "responses.create"}

known_actions := model_actions | {"models.list", "audit.read"}

default allow := false

allow if {
	input.action in known_actions
	count(reasons) == 0
}

# Models this subject may use: what GET /v1/models lists.
models contains name if {
	some name, model in config.models
	group_allowed(model.groups)
}

group_allowed(groups) if "*" in groups

group_allowed(groups) if {
	some group in input.subject.groups
	group in groups
}

reasons contains msg if {
	not input.action in known_actions
	msg := sprintf("unknown action %q", [input.action])
}

reasons contains "a model is required" if {
	input.action in model_actions
	not is_string(object.get(input, "model", null))
}

reasons contains msg if {
	input.action in model_actions
	not config.models[input.model]
	msg := sprintf("model %q is not offered by this gateway", [input.model])
}

reasons contains msg if {
	input.action in model_actions
	model := config.models[input.model]
	not group_allowed(model.groups)
	msg := sprintf("subject %q may not use model %q", [input.subject.id, input.model])
}

reasons contains msg if {
	input.action == "audit.read"
	not auditor
	msg := sprintf("subject %q is not an auditor", [input.subject.id])
}

auditor if {
	some group in input.subject.groups
	group in config.auditor_groups
}

# Retrieval for this request: on unless the model opts out; corpora null means "all the
# retrieval policy allows" (a request may narrow this, never widen it).
default retrieval := {"enabled": true, "corpora": null}

retrieval := {"enabled": false, "corpora": null} if config.models[input.model].retrieval == false

default context_window := 8192

context_window := config.models[input.model].context_window

# One round trip for the gateway: the verdict, its reasons and the request's settings.
default model_offered := false

model_offered if config.models[input.model]

decision := {
	"allow": allow,
	"reasons": reasons,
	"model_offered": model_offered,
	"retrieval": retrieval,
	"context_window": context_window,
}

# Per-caller limits (gateway.authz.limits): requests and tokens per minute, requests in
# flight. For each limit the subject's own entry wins, then the most generous of its
# groups' entries, then the default; a limit named nowhere is not applied.
limit_names := {"requests_per_minute", "tokens_per_minute", "concurrent_requests"}

limits := {name: value |
	some name in limit_names
	value := limit_value(name)
}

limit_value(name) := value if {
	value := data.gateway.config.limits.subjects[input.subject.id][name]
} else := value if {
	values := {v | some group in input.subject.groups; v := data.gateway.config.limits.groups[group][name]}
	count(values) > 0
	value := max(values)
} else := value if {
	value := data.gateway.config.limits["default"][name]
}
