import tempfile
from pathlib import Path

from tests.secret_scan import planted_secrets, scan


def test_scan_finds_a_planted_secret() -> None:
    """The suite-wide scan really looks inside gateway output files (and only those)."""
    # Outside pytest's temp dir: the suite's own scan must not see this planted key.
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "audit").mkdir()
        (root / "audit" / "audit-000001.jsonl").write_text('{"x": "sk-demo-bob"}\n')
        (root / "gateway.log").write_text("clean\n")
        (root / "other.txt").write_text("sk-demo-bob")  # not gateway output
        found = scan(root, planted_secrets())
    assert [(p.name, needle) for p, needle in found] == [("audit-000001.jsonl", "sk-demo-bob")]
