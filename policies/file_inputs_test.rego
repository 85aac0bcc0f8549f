package gateway.file_inputs_test

import rego.v1

import data.gateway.file_inputs

alice := {"id": "alice", "groups": ["engineering"], "attributes": {}}

use(files) := {"subject": alice, "action": "chat.completions", "model": "gpt-4o-mini", "files": files}

test_user_data_file_allowed if {
	d := file_inputs.decision with input as use([{"purpose": "user_data", "status": "processed"}])
	d.allow
	d.reasons == set()
}

test_no_files_allowed if {
	file_inputs.decision.allow with input as use([])
}

test_training_file_refused if {
	d := file_inputs.decision with input as use([
		{"purpose": "user_data", "status": "processed"},
		{"purpose": "fine-tune", "status": "processed"},
	])
	not d.allow
	d.reasons == {`a file with purpose "fine-tune" cannot be used as model input (allowed: assistants, user_data, vision)`}
}

test_unprocessed_file_refused if {
	d := file_inputs.decision with input as use([{"purpose": "user_data", "status": "uploaded"}])
	not d.allow
}

test_purposes_configurable if {
	d := file_inputs.decision with input as use([{"purpose": "assistants", "status": "processed"}])
		with data.gateway.config.file_inputs.purposes as ["user_data"]
	not d.allow
}
