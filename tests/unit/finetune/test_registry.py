"""The fine-tuning registry: per-caller ownership that survives a restart."""

from pathlib import Path

from gateway.finetune.registry import FileEntry, Registry


def entry(file_id: str, owner: str, passed: bool = True) -> FileEntry:
    return FileEntry(file_id, owner, "fine-tune", 10, "0" * 64, passed)


def test_ownership_is_per_caller_and_durable(tmp_path: Path) -> None:
    """A file and job are visible to their owner only, also after reopening the file."""
    path = tmp_path / "registry.sqlite3"
    with Registry(path) as registry:
        registry.add_file(entry("file-1", "bob"))
        registry.add_job("bob", "ftjob-1", "file-1")
    with Registry(path) as registry:
        assert registry.file("bob", "file-1") == entry("file-1", "bob")
        assert registry.file("alice", "file-1") is None
        assert registry.file_ids("alice") == set()
        assert registry.owns_job("bob", "ftjob-1")
        assert not registry.owns_job("alice", "ftjob-1")


def test_deleted_files_are_gone(tmp_path: Path) -> None:
    """Deleting removes the owner's entry."""
    with Registry(tmp_path / "r.sqlite3") as registry:
        registry.add_file(entry("file-1", "bob", passed=False))
        assert registry.file("bob", "file-1") == entry("file-1", "bob", passed=False)
        registry.delete_file("bob", "file-1")
        assert registry.file_ids("bob") == set()
