package gateway.redaction_test

import rego.v1

import data.gateway.redaction

bob := {"id": "bob", "groups": ["sales"], "attributes": {}}

carol := {"id": "carol", "groups": ["security"], "attributes": {}}

test_public_documents_keep_names_but_not_contacts if {
	d := redaction.decision with input as {"subject": bob, "source": "document", "classification": "public"}
	d.default == "keep"
	d.entities.EMAIL_ADDRESS == "replace"
	d.entities.CREDIT_CARD == "mask"
}

test_internal_documents_replace_by_default if {
	d := redaction.decision with input as {"subject": bob, "source": "document", "classification": "restricted"}
	d.default == "replace"
	not d.entities.PERSON
	d.restore == false
}

test_caller_messages_keep_person_names if {
	d := redaction.decision with input as {"subject": bob, "source": "message"}
	d.entities.PERSON == "keep"
	d.entities.PHONE_NUMBER == "replace"
	d.default == "replace"
}

test_security_group_gets_originals_restored if {
	d := redaction.decision with input as {"subject": carol, "source": "document", "classification": "restricted"}
	d.restore == true
}
