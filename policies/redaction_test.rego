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

test_message_keeps_ordinary_words_but_not_contacts_or_identifiers if {
	d := redaction.decision with input as {"subject": bob, "source": "message"}
	d.entities.LOCATION == "keep"
	d.entities.NRP == "keep"
	d.entities.DATE_TIME == "keep"
	d.entities.URL == "keep"
	d.entities.STREET_ADDRESS == "replace"
	d.entities.EMAIL_ADDRESS == "replace"
	d.entities.US_PASSPORT == "replace"
	d.entities.CREDIT_CARD == "mask"
	d.entities.US_SSN == "mask"
}

test_weak_patterns_need_a_context_word if {
	d := redaction.decision with input as {"subject": bob, "source": "message"}
	d.thresholds.US_DRIVER_LICENSE == 0.4
	d.thresholds.US_BANK_NUMBER == 0.4
	not d.thresholds.CREDIT_CARD
}

test_binary_content_refused_by_default if {
	d := redaction.decision with input as {"subject": carol, "source": "message"}
	d.allow_binary == false
}

test_unknown_types_get_the_default_operator if {
	d := redaction.decision with input as {"subject": bob, "source": "message"}
	not d.entities.SOME_NEW_TYPE
	d.default == "replace"
}
