# METADATA
# title: How PII in retrieved documents and caller messages is redacted
# description: |
#   input: {"subject": {"id", "groups", "attributes"},
#           "source": "document" | "message",
#           "classification": "public" | "internal" | "confidential" | "restricted" (documents)}
#   decision: {"default": operator, "entities": {ENTITY_TYPE: operator}, "restore": bool}
#   operators: "replace" (typed placeholder, e.g. <PERSON_1>), "mask" (****),
#              "hash" (<PERSON#1a2b3c4d>, stable per deployment key), "keep".
#   restore: placeholders in the model's answer are turned back into the originals for
#            this caller (only for values the caller's own request context held).
package gateway.redaction

import rego.v1

# Never shown to a model, whoever asks.
always_masked := {"CREDIT_CARD", "US_SSN", "IBAN_CODE", "US_BANK_NUMBER", "CRYPTO"}

# Contact details are pseudonymised everywhere.
contact := {"EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "URL"}

default_operator := "keep" if {
	input.source == "document"
	input.classification == "public"
} else := "replace"

entities[entity] := "mask" if some entity in always_masked

entities[entity] := "replace" if some entity in contact

# The caller's own messages: names stay (they wrote them), contact details do not.
entities["PERSON"] := "keep" if input.source == "message"

# Security staff may see originals in answers (the model still never sees them).
default restore := false

restore if "security" in input.subject.groups

decision := {"default": default_operator, "entities": entities, "restore": restore}
