"""``gateway policy diff``: who gains and who loses access if a policy change ships.

sources     a policy version from a directory or a git ref (``git archive``)
opa_server  a private OPA serving one version on a free loopback port
principals  whom to evaluate: the keys file, JWT claims, or subjects seen in the audit log
evaluate    one version for one principal: retrieval filter, models, auditor
compare     Elasticsearch counts of the documents gained and lost, per principal
report      the text and JSON reports
cli         the typer sub-app
"""
