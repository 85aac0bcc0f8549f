# METADATA
# title: Files as model input
# description: |
#   May this model request use these files? A chat `file` part, a Responses
#   `input_file` / `input_image` part (and any other `file_id` / `file_ids` the request
#   names) refers to a file uploaded through the gateway. The gateway has already checked
#   that each is the caller's own (another caller's id, or one it never issued, is a 404
#   like a missing one) and that it passed the upload scan (status "processed"); this
#   package decides which purposes may be model input. Training, batch and eval files
#   are data the gateway scanned for those uses, not prompt material.
#   input: {"subject": {"id", "groups", "attributes"},
#           "action": "chat.completions" | "responses.create" | ...,
#           "model": "...",
#           "files": [{"purpose": "user_data" | ..., "status": "processed"}]}
#   data: data.gateway.config.file_inputs.purposes (default below)
#   decision: {"allow", "reasons"}
package gateway.file_inputs

import rego.v1

config := object.get(data.gateway.config, "file_inputs", {})

# OpenAI's purposes for files a model reads: user_data (any model input), assistants
# and vision (images).
purposes := object.get(config, "purposes", ["user_data", "assistants", "vision"])

default allow := false

allow if count(reasons) == 0

reasons contains msg if {
	some file in input.files
	not file.purpose in purposes
	msg := sprintf("a file with purpose %q cannot be used as model input (allowed: %s)", [file.purpose, concat(", ", sort(purposes))])
}

reasons contains msg if {
	some file in input.files
	file.status != "processed"
	msg := sprintf("a file with status %q cannot be used as model input", [file.status])
}

decision := {"allow": allow, "reasons": reasons}
