"""Fine-tuning governance: OpenAI's files and fine-tuning endpoints, with an upload scan.

examples   parse and validate chat-format JSONL, bad lines by number
matcher    find governed chunks sharing fingerprints with each example (Elasticsearch)
scan       parse -> fingerprint -> match -> Presidio: facts for the policy, no text
registry   which caller owns which file and job, scan state (Elasticsearch)
processing the background scan of an upload: lease, policy, forward, outcome
upstream   the upstream's files and fine-tuning endpoints (httpx)
service    the governed calls: policy (gateway.finetune), audit, forward, register
"""

from gateway.finetune.registry import Registry
from gateway.finetune.scan import ScanResult, UploadScanner
from gateway.finetune.service import Caller, FinetuneService

__all__ = ["Caller", "FinetuneService", "Registry", "ScanResult", "UploadScanner"]
