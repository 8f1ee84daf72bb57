"""openunmix.separation.manifest: appends from two processes survive compaction."""

import multiprocessing

from openunmix.separation.manifest import Manifest


def test_manifest_appends_from_two_processes_survive_compaction(tmp_path):
    manifest = Manifest(tmp_path / "manifest.jsonl")
    context = multiprocessing.get_context("fork")  # the child appends only: no torch in it
    child = context.Process(target=_append_many, args=(manifest.path, "child", 300))
    child.start()
    for i in range(300):
        manifest.append({"folder": f"parent{i}", "status": "done"})
        if i % 30 == 0:
            manifest.compact()
    child.join()
    assert child.exitcode == 0
    manifest.append({"folder": "parent0", "status": "failed"})  # a later record of the same folder wins
    manifest.compact(order=["parent5"])
    latest = manifest.latest()
    assert len(latest) == 600 and list(latest)[0] == "parent5" and latest["parent0"]["status"] == "failed"
    assert len(manifest.path.read_text().splitlines()) == 600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.jsonl"]  # no temporary files left



def _append_many(path, prefix, n):
    manifest = Manifest(path)
    for i in range(n):
        manifest.append({"folder": f"{prefix}{i}", "status": "done"})
