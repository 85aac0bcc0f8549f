# METADATA
# title: How PII in retrieved documents and caller messages is redacted
# description: |
#   input: {"subject": {"id", "groups", "attributes"},
#           "source": "document" | "message",
#           "classification": "public" | "internal" | "confidential" | "restricted" (documents)}
#   decision: {"default": operator, "entities": {ENTITY_TYPE: operator}, "restore": bool,
#              "thresholds": {ENTITY_TYPE: min score}, "allow_binary": bool}
#   operators: "replace" (typed placeholder, e.g. <PERSON_1>), "mask" (****),
#              "hash" (<PERSON#1a2b3c4d>, stable per deployment key), "keep".
#   restore: placeholders in the model's answer are turned back into the originals for
#            this caller (only for values the caller's own request context held).
#   thresholds: a span scoring under its type's minimum is not acted on (types absent: all).
#   allow_terms: lower-cased terms never redacted as an NER guess (tech names, formats).
#   allow_binary: caller content the gateway cannot analyse (image, PDF, audio data) may
#                 pass; otherwise such a request is refused.
#   Where spans overlap, the strictest operator wins (mask > replace > hash > keep), so a
#   kept type never hides a redacted one. Types not named here get the default operator.
package gateway.redaction

import rego.v1

# Never shown to a model, whoever asks.
always_masked := {"CREDIT_CARD", "US_SSN", "IBAN_CODE", "US_BANK_NUMBER", "CRYPTO", "US_ITIN"}

# Contact details and addresses are pseudonymised everywhere.
contact := {"EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "STREET_ADDRESS", "MAC_ADDRESS"}

# Identifiers of a person: pseudonymised everywhere.
identifiers := {"US_PASSPORT", "US_DRIVER_LICENSE", "UK_NHS", "MEDICAL_LICENSE", "DATE_OF_BIRTH"}

# Not personal on their own (a country, a language, "next Monday", a link, a UUID, a
# company): kept, so ordinary text stays intact. An e-mail inside a URL is still an
# EMAIL_ADDRESS and is replaced (overlaps resolve to the stricter operator).
not_personal := {"LOCATION", "NRP", "DATE_TIME", "URL", "UUID", "ORGANIZATION"}

# Pattern recognizers that fire on any digit run (order numbers, versions, product codes):
# only acted on when a context word ("passport", "account", "license"...) raised the score.
weak_patterns := {"US_DRIVER_LICENSE", "US_BANK_NUMBER", "US_PASSPORT", "US_ITIN", "MEDICAL_LICENSE"}

default_operator := "keep" if {
	input.source == "document"
	input.classification == "public"
} else := "replace"

entities[entity] := "mask" if some entity in always_masked

entities[entity] := "replace" if some entity in contact

entities[entity] := "replace" if some entity in identifiers

entities[entity] := "keep" if some entity in not_personal

# The caller's own messages: names stay (they wrote them).
entities["PERSON"] := "keep" if input.source == "message"

thresholds[entity] := 0.4 if some entity in weak_patterns

thresholds["US_SSN"] := 0.4

thresholds["PHONE_NUMBER"] := 0.4

# Never redacted as a guess of the NER model (it calls "Kubernetes" a person, "JSON" a
# place): formats, languages, and tech and product names. Validated patterns (cards,
# e-mails...) are not affected. Extend for your organisation's own product names.
allow_terms := {
	"json", "yaml", "csv", "xml", "toml", "html", "markdown", "sql", "graphql", "protobuf",
	"parquet", "avro",
	"python", "rust", "go", "golang", "java", "javascript", "typescript", "kotlin", "swift",
	"ruby", "scala", "haskell", "elixir", "php", "perl", "bash", "powershell",
	"kubernetes", "k8s", "docker", "terraform", "ansible", "helm", "istio", "kafka", "redis",
	"postgresql", "postgres", "mysql", "mongodb", "elasticsearch", "opensearch", "snowflake",
	"bigquery", "databricks", "spark", "hadoop", "airflow", "grafana", "prometheus", "datadog",
	"splunk", "jenkins", "github", "gitlab", "bitbucket", "jira", "confluence", "slack",
	"teams", "zoom", "aws", "azure", "gcp", "lambda", "s3", "ec2", "eks", "gke", "aks",
	"react", "angular", "vue", "django", "flask", "fastapi", "rails", "spring", "node",
	"node.js", "linux", "ubuntu", "debian", "windows", "macos", "ios", "android", "excel",
	"openai", "chatgpt", "gpt-4", "gpt-4o", "claude", "llama", "copilot", "sharepoint",
	"salesforce", "sap", "oracle", "tableau", "looker", "figma", "notion",
}

# Callers may send images and files the gateway cannot read only if policy allows it.
default allow_binary := false

# Security staff may see originals in answers (the model still never sees them).
default restore := false

restore if "security" in input.subject.groups

decision := {
	"default": default_operator,
	"entities": entities,
	"restore": restore,
	"thresholds": thresholds,
	"allow_binary": allow_binary,
	"allow_terms": allow_terms,
}
